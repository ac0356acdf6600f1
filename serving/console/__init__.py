"""The HR console: server-rendered pages on the same app as the API, at ``/``.

Sign-in makes a session (``serving.users``): an HttpOnly, SameSite cookie holds
its token, and every form carries the session's CSRF token (the sign-in form a
double-submit one). Pages (``pages``, ``review``, ``export``) read through
``serving.services`` with the user's ``Principal``, exactly as the API does.
Chinese by default; ``/lang/en`` switches (a cookie).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from serving import charts
from serving.console import export, pages, review, session
from serving.console.render import HERE, render
from serving.deps import PageError, SignInFirst


def add_console(app: FastAPI) -> None:
    """Mount the console's pages, its static files and plotly.js on the app."""
    for module in (session, pages, review, export):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            charts.PLOTLY_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.exception_handler(SignInFirst)
    async def sign_in_first(request: Request, exc: SignInFirst) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='')}", status_code=303)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        return render(request, "message.html", None, exc.status, key=exc.key)
