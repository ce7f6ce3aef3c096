"""Object storage through the minio client, so MinIO, SeaweedFS or AWS S3 work unchanged."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from mb_shared.settings import BaseServiceSettings

PRESIGNED_URL_LIFETIME = timedelta(hours=1)


class ObjectStore:
    """Blocking minio calls run in a thread so that handlers stay responsive."""

    def __init__(self, settings: BaseServiceSettings) -> None:
        self.bucket = settings.s3_bucket
        self._client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
        public = settings.s3_public_endpoint or settings.s3_endpoint
        self._signer = Minio(
            public,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )

    async def ensure_bucket(self) -> None:
        def _ensure() -> None:
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

        await asyncio.to_thread(_ensure)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.fput_object, self.bucket, key, str(path), content_type=content_type
        )

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        import io

        await asyncio.to_thread(
            self._client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )

    async def get_bytes(self, key: str) -> bytes:
        def _get() -> bytes:
            response = self._client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(_get)

    async def download(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._client.fget_object, self.bucket, key, str(path))

    async def exists(self, key: str) -> bool:
        def _exists() -> bool:
            try:
                self._client.stat_object(self.bucket, key)
                return True
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                    return False
                raise

        return await asyncio.to_thread(_exists)

    async def list_keys(self, prefix: str) -> list[tuple[str, datetime]]:
        """Every object under `prefix` (recursively) as (key, last modified), in key order."""

        def _list() -> list[tuple[str, datetime]]:
            return [
                (obj.object_name, obj.last_modified)
                for obj in self._client.list_objects(self.bucket, prefix=prefix, recursive=True)
                if obj.object_name is not None and not obj.is_dir
            ]

        return await asyncio.to_thread(_list)

    async def delete(self, key: str) -> None:
        """Delete one object (nothing happens if it is not there)."""
        await asyncio.to_thread(self._client.remove_object, self.bucket, key)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; returns how many there were."""
        keys = [key for key, _ in await self.list_keys(prefix)]

        def _delete() -> None:
            errors = list(
                self._client.remove_objects(self.bucket, (DeleteObject(key) for key in keys))
            )
            if errors:
                raise RuntimeError(f"could not delete {len(errors)} objects: {errors[0]}")

        if keys:
            await asyncio.to_thread(_delete)
        return len(keys)

    def presigned_url(self, key: str, lifetime: timedelta = PRESIGNED_URL_LIFETIME) -> str:
        """Pure computation (no network): sign a GET for the public endpoint."""
        return self._signer.presigned_get_object(self.bucket, key, expires=lifetime)

    async def presigned_url_if_exists(self, key: str | None) -> str:
        """The reference returns an empty string where a file does not exist."""
        if not key or not await self.exists(key):
            return ""
        return self.presigned_url(key)
