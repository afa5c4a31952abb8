"""The remote opening (不见面开标) over HTTP: the service (``bidcrypt serve``) and the bidder's client.

The service is a Starlette application on uvicorn over one or more session
folders (``docs/remote.md``, "The service"): the profile, sign-in challenges
and sign-ins, fronts, releases, backups and shares, the status, the record,
the opening-hall page (开标大厅) and its event stream. It keeps no state of
its own: the session folders are everything, so a restart loses nothing.

For tender software::

    app = create_app([Path("session")])                     # an ASGI app to mount or serve
    serve([Path("session")], parse_bind("127.0.0.1:8443"), tls_cert=cert, tls_key=key)
    remote = RemoteSession("https://host:8443/s/<id>/", ca=Path("ca.pem"))
    print(remote.status()["window"]["remaining"])
"""

from bidcrypt.remote.app import create_app
from bidcrypt.remote.bidder import fetch_profile, remote_release, remote_share, remote_signin
from bidcrypt.remote.client import RemoteSession
from bidcrypt.remote.limits import RateLimiter
from bidcrypt.remote.options import ServiceOptions
from bidcrypt.remote.server import Binding, parse_bind, serve

__all__ = [
    "Binding",
    "RateLimiter",
    "RemoteSession",
    "ServiceOptions",
    "create_app",
    "fetch_profile",
    "parse_bind",
    "remote_release",
    "remote_share",
    "remote_signin",
    "serve",
]
