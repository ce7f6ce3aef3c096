"""Owns the simulator's lifecycle: the HTTPS platform server, the control server, and browser flags."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Self

from aiohttp import web

from .certs import SIMULATED_HOSTNAMES, Certificate, generate_certificate
from .control import create_control_app
from .meetings import MeetingStore
from .platforms import PLATFORMS
from .speech import SpeechSynthesizer


async def _misdirected(request: web.Request) -> web.Response:
    return web.Response(status=421, text=f"The simulator does not serve {request.host!r}\n")


class MeetingSimulator:
    """Serves the platforms' guest pages over HTTPS and a JSON control API over HTTP.

    Usage: ``async with MeetingSimulator() as sim:`` then point Chromium at it with
    ``sim.chromium_args()`` and script meetings through ``sim.control_url``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        https_port: int = 0,
        control_port: int = 0,
        cache_dir: str | Path | None = None,
        no_response_after: float = 600.0,
    ) -> None:
        self.host = host
        self._requested_https_port = https_port
        self._requested_control_port = control_port
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._no_response_after = no_response_after
        self._workdir: Path | None = None
        self._runners: list[web.AppRunner] = []
        self.certificate: Certificate | None = None
        self.store: MeetingStore | None = None
        self.https_port = 0
        self.control_port = 0

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.control_port}"

    def chromium_args(self) -> list[str]:
        """Flags that send the platforms' real hostnames to this simulator and trust its certificate.

        Give Chromium a `--user-data-dir` too: some Chromium versions honour
        `--ignore-certificate-errors-spki-list` only then (chromedriver always passes one).
        """
        if self.certificate is None:
            raise RuntimeError("the simulator is not started")
        rules = [f"MAP {name} {self.host}:{self.https_port}" for name in SIMULATED_HOSTNAMES]
        rules.append("EXCLUDE localhost")
        return [
            "--host-resolver-rules=" + ",".join(rules),
            "--ignore-certificate-errors-spki-list=" + self.certificate.spki_sha256_b64,
        ]

    def info(self) -> dict[str, Any]:
        return {
            "control_url": self.control_url,
            "https_port": self.https_port,
            "chromium_args": self.chromium_args(),
        }

    async def start(self) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix="meeting-simulator-"))
        try:
            self.certificate = generate_certificate(self._workdir / "tls")
            synthesizer = SpeechSynthesizer(self._cache_dir or self._workdir / "speech")
            self.store = MeetingStore(synthesizer, no_response_after=self._no_response_after)

            platforms_app = web.Application()
            for platform in PLATFORMS:
                sub_app = platform.create_app(self.store, synthesizer)
                for hostname in platform.HOSTS:
                    platforms_app.add_domain(hostname, sub_app)
            platforms_app.router.add_route("*", "/{tail:.*}", _misdirected)

            self.https_port = await self._serve(
                platforms_app,
                self._requested_https_port,
                ssl_context=self.certificate.server_ssl_context(),
            )
            info: dict[str, Any] = {}
            control_app = create_control_app(self.store, info)
            self.control_port = await self._serve(control_app, self._requested_control_port)
            info.update(self.info())
        except BaseException:
            await self.stop()
            raise

    async def _serve(self, app: web.Application, port: int, **site_kwargs: Any) -> int:
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.host, port, **site_kwargs)
        await site.start()
        return int(runner.addresses[-1][1])

    async def stop(self) -> None:
        if self.store is not None:
            self.store.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
