"""The job kinds of the bulk operations, apart so that export (which purges both) need not import import."""

EXPORT = "export"
IMPORT = "import"
