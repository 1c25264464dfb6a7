"""The web console at /console: server-rendered pages (sign-in, dashboard, API tokens,
usage log, playground, admin, API docs) over the gateway's own services, and /docs offline.

`install_console(app)` adds its routes, static files and HTML error pages to the app.
"""

from thinkgate.console.app import install_console

__all__ = ["install_console"]
