from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from srs.imports.models import ImportJob, ImportStatus


def add(session: Session, job: ImportJob) -> None:
    session.add(job)
    session.flush()


def get(session: Session, user_id: int, job_id: int) -> ImportJob | None:
    return session.scalar(
        select(ImportJob).where(ImportJob.id == job_id, ImportJob.user_id == user_id)
    )


def get_any(session: Session, job_id: int) -> ImportJob | None:
    return session.get(ImportJob, job_id)


def fail_unfinished(session: Session, message: str) -> int:
    unfinished = (ImportStatus.QUEUED.value, ImportStatus.RUNNING.value)
    result = session.execute(
        update(ImportJob)
        .where(ImportJob.status.in_(unfinished))
        .values(status=ImportStatus.FAILED.value, error=message)
    )
    return result.rowcount or 0
