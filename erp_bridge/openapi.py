"""The OpenAPI 3.1 description of the push API, built from the record schemas below.

The same schemas describe the pull feed's items: an ERP speaks one shape both ways.
"""

from __future__ import annotations

from typing import Any

from .handlers import STREAMS

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_MONEY = {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "description": "roubles, as text"}
_NUM = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
_BOOL = {"type": "boolean"}

_COMMON = {
    "id": {**_STR, "description": "the record's id in the ERP (stable)"},
    "updated_at": {
        **_TIME,
        "description": "when the ERP last changed it: an older version "
        "never overwrites a newer one",
    },
}

RECORDS: dict[str, dict[str, Any]] = {
    "customers": {
        "required": ["id", "name"],
        "properties": {
            "number": _NSTR,
            "name": _STR,
            "kind": {"enum": ["company", "person"]},
            "inn": {"type": ["string", "null"], "pattern": r"^\d{10}(\d{2})?$"},
            "email": _NSTR,
            "phone": _NSTR,
            "address": _NSTR,
            "price_type": _NSTR,
            "active": _BOOL,
        },
        "example": {
            "id": "C-1001",
            "updated_at": "2026-11-20T09:30:00+03:00",
            "name": "ООО «Стройдом»",
            "inn": "7701234567",
            "email": "zakaz@stroydom.ru",
            "phone": "+7 495 111-22-33",
            "address": "Москва, ул. Лесная, 5",
        },
    },
    "product_groups": {
        "required": ["id", "name"],
        "properties": {"name": _STR, "parent": _NSTR},
        "example": {"id": "G-10", "name": "Крепёж", "parent": None},
    },
    "products": {
        "required": ["id", "name"],
        "properties": {
            "article": _NSTR,
            "name": _STR,
            "group": _NSTR,
            "unit": _NSTR,
            "active": _BOOL,
        },
        "example": {
            "id": "P-501",
            "article": "DIN933-M8x40",
            "name": "Болт М8×40",
            "group": "G-10",
            "unit": "шт",
        },
    },
    "price_types": {
        "required": ["id", "name"],
        "properties": {"name": _STR, "currency": _STR},
        "example": {"id": "wholesale", "name": "Оптовая", "currency": "RUB"},
    },
    "offers": {
        "required": ["id", "product", "prices"],
        "properties": {
            "product": _STR,
            "prices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "price"],
                    "properties": {"type": _STR, "price": _MONEY, "currency": _NSTR},
                },
            },
            "quantity": {**_NUM, "description": "stock; negative is rejected"},
        },
        "example": {
            "id": "P-501",
            "product": "P-501",
            "quantity": "1200",
            "prices": [{"type": "wholesale", "price": "12.40"}],
        },
    },
    "orders": {
        "required": ["id", "number", "date", "customer", "lines"],
        "properties": {
            "number": _STR,
            "date": _TIME,
            "customer": _STR,
            "status": _STR,
            "currency": _STR,
            "total": _MONEY,
            "vat": _MONEY,
            "payment_status": _NSTR,
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "quantity", "price"],
                    "properties": {
                        "product": _NSTR,
                        "article": _NSTR,
                        "name": _STR,
                        "quantity": _NUM,
                        "price": _MONEY,
                        "amount": _MONEY,
                        "vat": _MONEY,
                    },
                },
            },
        },
        "example": {
            "id": "O-77",
            "number": "ТС-000077",
            "date": "2026-11-19T14:05:00+03:00",
            "customer": "C-1001",
            "status": "confirmed",
            "total": "2480.00",
            "vat": "413.33",
            "lines": [
                {"product": "P-501", "name": "Болт М8×40", "quantity": "200", "price": "12.40"}
            ],
        },
    },
    "shipments": {
        "required": ["id", "order", "number"],
        "properties": {
            "order": _STR,
            "number": _STR,
            "carrier": _NSTR,
            "tracking_number": _NSTR,
            "tracking_url": _NSTR,
            "status": _STR,
            "shipped_at": _NTIME,
            "expected_at": _NTIME,
            "delivered_at": _NTIME,
        },
        "example": {
            "id": "S-31",
            "order": "O-77",
            "number": "РН-31",
            "carrier": "СДЭК",
            "tracking_number": "1234567890",
            "status": "shipped",
            "shipped_at": "2026-11-20T10:00:00+03:00",
        },
    },
    "documents": {
        "required": ["id", "customer", "kind", "number", "filename", "content_base64"],
        "properties": {
            "customer": _STR,
            "order": _NSTR,
            "kind": _STR,
            "number": _STR,
            "issued_at": _TIME,
            "filename": _STR,
            "content_base64": _STR,
        },
        "example": {
            "id": "D-9",
            "customer": "C-1001",
            "order": "O-77",
            "kind": "invoice",
            "number": "СЧ-9",
            "issued_at": "2026-11-19T15:00:00+03:00",
            "filename": "invoice-9.pdf",
            "content_base64": "JVBERi0xLjQK",
        },
    },
    "bonus_operations": {
        "required": ["id", "customer", "points", "kind", "occurred_at"],
        "properties": {
            "customer": _STR,
            "points": {"type": "integer"},
            "kind": _STR,
            "occurred_at": _TIME,
            "comment": _NSTR,
        },
        "example": {
            "id": "B-5",
            "customer": "C-1001",
            "points": 250,
            "kind": "accrual",
            "occurred_at": "2026-11-20T12:00:00+03:00",
            "comment": "Заказ ТС-000077",
        },
    },
    "payments": {
        "required": ["id", "number", "date", "amount"],
        "properties": {
            "customer": {
                **_NSTR,
                "description": "the payer; may be left out when 'order' is given",
            },
            "order": {**_NSTR, "description": "the order it pays, when known"},
            "document": {**_NSTR, "description": "the document (invoice) it pays, when known"},
            "number": _STR,
            "date": {**_TIME, "description": "when the money moved (a naive time is Moscow)"},
            "amount": _MONEY,
            "currency": {**_STR, "description": "RUB only"},
            "kind": {"type": "string", "enum": ["payment", "refund"]},
            "purpose": _NSTR,
            "posted": {**_BOOL, "description": "false: un-posted in the ERP, reversed"},
            "deleted": {**_BOOL, "description": "true: marked for deletion, reversed"},
            "cancelled_at": {**_NTIME, "description": "when it was reversed (default: now)"},
        },
        "example": {
            "id": "P-12",
            "customer": "C-1001",
            "order": "O-77",
            "number": "ПП-512",
            "date": "2026-11-21T11:30:00+03:00",
            "amount": "48200.00",
            "kind": "payment",
            "purpose": "Оплата по счёту СЧ-9",
            "posted": True,
        },
    },
}


def record_schema(stream: str) -> dict[str, Any]:
    shape = RECORDS[stream]
    return {
        "type": "object",
        "required": shape["required"],
        "properties": {**_COMMON, **shape["properties"]},
        "example": shape["example"],
    }


def _result_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["run_id", "counts", "results"],
        "properties": {
            "run_id": {"type": "integer"},
            "counts": {
                "type": "object",
                "properties": {
                    k: {"type": "integer"} for k in ("created", "updated", "unchanged", "rejected")
                },
            },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "id": _NSTR,
                        "status": {"enum": ["accepted", "unchanged", "rejected"]},
                        "reason": _STR,
                    },
                },
            },
        },
    }


_ERROR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def spec() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/erp/v1/oauth/token": {
            "post": {
                "summary": "Get an access token (OAuth2 client credentials)",
                "security": [{"clientBasic": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type"],
                                "properties": {
                                    "grant_type": {"enum": ["client_credentials"]},
                                    "scope": {**_STR, "description": "streams, space separated"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "a bearer token",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "access_token": _STR,
                                        "token_type": _STR,
                                        "expires_in": {"type": "integer"},
                                        "scope": _STR,
                                    },
                                }
                            }
                        },
                    },
                    "400": {"description": "invalid grant or scope"},
                    "401": {"description": "wrong client credentials"},
                },
            }
        },
        "/api/erp/v1/reorders": {
            "get": {
                "summary": "Reorder requests not yet confirmed by the ERP",
                "security": [{"bearer": ["reorders"]}],
                "responses": {"200": {"description": "items"}, "401": _ERROR, "403": _ERROR},
            }
        },
        "/api/erp/v1/reorders/ack": {
            "post": {
                "summary": "Confirm reorder requests stored by the ERP",
                "security": [{"bearer": ["reorders"]}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["ids"],
                                "properties": {
                                    "ids": {"type": "array", "items": {"type": "integer"}}
                                },
                            }
                        }
                    },
                },
                "responses": {"200": {"description": "acknowledged"}, "401": _ERROR, "403": _ERROR},
            }
        },
    }
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {"error": _STR, "message": _STR},
        },
        "PushResult": _result_schema(),
    }
    for stream in sorted(STREAMS):
        if stream not in RECORDS:
            continue
        name = "".join(part.title() for part in stream.split("_"))
        schemas[name] = record_schema(stream)
        paths[f"/api/erp/v1/{stream}"] = {
            "post": {
                "summary": f"Push {stream.replace('_', ' ')} (upsert by id)",
                "security": [{"bearer": [stream]}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["records"],
                                "properties": {
                                    "records": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": 1000,
                                        "items": {"$ref": f"#/components/schemas/{name}"},
                                    }
                                },
                            },
                            "example": {"records": [RECORDS[stream]["example"]]},
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "one result per record, in the order sent",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/PushResult"}
                            }
                        },
                    },
                    "400": _ERROR,
                    "401": _ERROR,
                    "403": _ERROR,
                    "503": {"description": "the stream is being imported; retry after Retry-After"},
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portal ERP API",
            "version": "1.0.0",
            "description": "Push records of an ERP into the portal; read reorder requests.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "clientBasic": {"type": "http", "scheme": "basic"},
                "bearer": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/api/erp/v1/oauth/token",
                            "scopes": {s: f"push {s}" for s in sorted(STREAMS)}
                            | {"reorders": "read and confirm reorder requests"},
                        }
                    },
                },
            },
        },
    }
