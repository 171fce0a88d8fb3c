"""The staff pages: working pages for the practice (calendar, stock, fee sheet, reports) under /staff/.

Each page is server-rendered HTML in the user's language plus a script that signs in through
the server's own OAuth (the first-party client `staff-pages`, client.py) and works through
the FHIR API with the user's token, so a page can do nothing its user's role could not do
over REST. A workflow declares its pages (`StaffPage`, declaration.py) and lists them in
`catalog.STAFF_PAGES`; docs/staff-pages.md shows how.
"""

from .catalog import STAFF_PAGES
from .client import register_staff_client
from .declaration import StaffPage
from .routes import staff_router

__all__ = ["STAFF_PAGES", "StaffPage", "register_staff_client", "staff_router"]
