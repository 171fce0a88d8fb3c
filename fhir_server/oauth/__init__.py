"""The SMART App Launch 2.2 authorization server: discovery, authorize, token, revocation,
introspection, EHR launch handles and client registration, under `/auth` (built on authlib's
RFC 6749 / RFC 7636 pieces and joserfc for JOSE).

Modules are imported where used (`oauth.routes`, `oauth.state`, ...): this package stays
light so rest/metadata.py can import `oauth.discovery` without a cycle.
"""
