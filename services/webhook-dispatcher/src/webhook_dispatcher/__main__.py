"""`mb-webhook-dispatcher [serve|migrate|revision -m MESSAGE]`."""

from __future__ import annotations

from mb_shared.service_main import run_service
from webhook_dispatcher.settings import DispatcherSettings


def _build(settings: DispatcherSettings):
    from webhook_dispatcher.app import build_app

    return build_app(settings)


def main() -> None:
    run_service("webhook-dispatcher", DispatcherSettings, _build, migrations="webhook_dispatcher")


if __name__ == "__main__":
    main()
