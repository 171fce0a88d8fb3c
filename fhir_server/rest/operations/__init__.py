"""Declared `$operations`: each is one declaration (declaration.py) listed in catalog.py; the
routes (routes.py), the CapabilityStatement entries (rest/metadata.py) and the OperationDefinition
resources (definition.py) are generated from them."""
