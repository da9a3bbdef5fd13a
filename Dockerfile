# modqueue: one image for web, worker, beat and migrations (the command picks the role).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The CPU build of torch, installed first so no dependency pulls the multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service service
COPY workers workers
RUN pip install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 modqueue \
    && mkdir -p /var/lib/modqueue/models \
    && chown -R modqueue /var/lib/modqueue
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MODQUEUE_INSTANCE_PATH=/var/lib/modqueue
USER modqueue
WORKDIR /var/lib/modqueue
EXPOSE 8000 9808
CMD ["modqueue", "web", "--host", "0.0.0.0", "--port", "8000"]
