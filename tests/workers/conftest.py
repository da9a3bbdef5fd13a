from __future__ import annotations

import pytest

from tests.support.detoxify_checkpoint import build_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A Detoxify-format checkpoint of a tiny random BERT, built offline for this run."""
    return build_checkpoint(tmp_path_factory.mktemp("detoxify"))
