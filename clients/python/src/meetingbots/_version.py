"""The installed version of the distribution, for `meetingbots.__version__` and the user agent."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("meeting-bots-client")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree
    __version__ = "0.0.0"
