"""The app's pages as app.py declares them, for its navigation, Home's links and links between pages."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    path: str            # the page's script
    title: str
    icon: str
    blurb: str = ""      # what it is for, on Home
    url: str = ""        # its address ("" for the default page)
    live: bool = False   # it follows a running training itself (playground.live.follow with a region)


_PAGES: list[Page] = []


def declare(pages: list[Page]) -> list[Page]:
    """Make ``pages`` the app's pages (app.py does, at each run)."""
    _PAGES[:] = pages
    return pages


def pages() -> list[Page]:
    return list(_PAGES)


def page(url: str) -> Page:
    """The page at address ``url``."""
    return next(p for p in _PAGES if p.url == url)
