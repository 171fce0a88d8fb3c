"""FHIR formats other than JSON: XML (https://hl7.org/fhir/R4/xml.html) in and out, and content negotiation.

The engine only knows the JSON structure; XML is converted at the edge, and only when a request
asks for it, so JSON requests pay nothing for it. Why a converter of our own and not a library: xml_model.py.
"""
