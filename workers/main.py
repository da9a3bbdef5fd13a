"""Worker entry point: `celery -A workers.main worker`."""

from workers.celery_app import create_celery

celery_app = create_celery()
