"""`mb-webhook-dispatcher [serve|migrate]`."""

from __future__ import annotations

from mb_shared.service_main import run_service
from webhook_dispatcher.settings import DispatcherSettings


def _build(settings: DispatcherSettings):
    from webhook_dispatcher.app import build_app

    return build_app(settings)


def _metadata():
    from webhook_dispatcher.models import DispatcherModel

    return DispatcherModel.metadata


def main() -> None:
    run_service("webhook-dispatcher", DispatcherSettings, _build, _metadata)


if __name__ == "__main__":
    main()
