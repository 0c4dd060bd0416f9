#!/usr/bin/env python3
"""Independent verifier of EU Digital COVID Certificates (HCERT, "HC1:" texts).

Provenance: written from scratch for phongdich (issue 6, point 6) as a second, independent
implementation of the verification side of the eHealth Network HCERT specification, so that the
certificates our Rust crates issue are checked by code that shares nothing with them. It follows
the public specifications only -- HCERT 1.x (HC1: prefix, zlib, Base45, CWT claim -260),
RFC 9285 (Base45), RFC 9052 (COSE_Sign1, Sig_structure), RFC 8392 (CWT claims), RFC 8949 (CBOR)
-- and uses no code from phongdich nor from any other HCERT project. Parsing and cryptography are
done by general-purpose libraries only:

    base45        Base45 decoding              (PyPI)
    zlib          inflate                      (Python standard library)
    cbor2         CBOR decoding and encoding   (PyPI)
    cryptography  X.509 parsing, ECDSA P-256   (PyPI)

Install:  python3 -m pip install --break-system-packages -r tests/independent/requirements.txt
          (requirements.txt beside this file pins base45, cbor2 and cryptography)

Usage:    verify_hcert.py --cert CERT_FILE --at RFC3339 HC1_FILE

CERT_FILE holds the document signer certificate as DER, PEM or base64 of the DER. HC1_FILE holds
the "HC1:..." text (surrounding whitespace is ignored). One JSON line is printed:

    {"signature_valid": bool, "kid_matches": bool, "expired": bool, "not_yet_valid": bool,
     "claims_valid": bool, "iss": str|null, "iat": int|null, "exp": int|null, "dcc": {...}|null,
     "kid": base64|null, "certificate_kid": base64|null, "errors": [str, ...],
     "warnings": [str, ...]}

Exit status: 0 when the ES256 signature verifies with the certificate's key, the kid names the
certificate (first 8 bytes of SHA-256 of its DER), the CWT claims are well formed with the DCC
under -260 -> 1, and the certificate is neither expired (at >= exp) nor issued after --at;
1 when any of this fails; 2 on a usage error or an unreadable certificate file.
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import io
import json
import re
import sys
import zlib
from collections.abc import Mapping

import base45
import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PREFIX = "HC1:"
COSE_SIGN1_TAG = 18
CWT_TAG = 61
HEADER_ALG = 1
HEADER_KID = 4
ALG_ES256 = -7
CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_HCERT = -260
HCERT_EU_DCC_V1 = 1
KID_LENGTH = 8
P256_COORDINATE_LENGTH = 32


class Failure(Exception):
    """A step of decoding failed; the message goes into "errors"."""


# ---------------------------------------------------------------------------------------------
# Inputs


def load_certificate(path):
    """Returns (DER bytes, cryptography Certificate) from a DER, PEM or base64-DER file."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:1] == b"\x30":
        der = raw
    else:
        text = raw.decode("ascii", errors="strict").strip()
        m = re.search(
            r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S
        )
        body = m.group(1) if m else text
        body = "".join(body.split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            der = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return der, x509.load_der_x509_certificate(der)


def parse_time(text):
    """An RFC 3339 date-time with an offset, as whole seconds since the epoch (int)."""
    t = text.strip()
    if t[-1:] in ("Z", "z"):
        t = t[:-1] + "+00:00"
    when = datetime.datetime.fromisoformat(t.replace("t", "T").replace(" ", "T", 1))
    if when.tzinfo is None:
        raise ValueError("the time needs an offset (Z or +hh:mm)")
    return int(when.timestamp())


# ---------------------------------------------------------------------------------------------
# Decoding


def cbor_strict_loads(data, what):
    """Decodes exactly one CBOR item that fills `data`."""
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception as e:  # cbor2 raises several error types
        raise Failure(f"{what}: invalid CBOR ({e})") from e
    if stream.tell() != len(data):
        raise Failure(f"{what}: {len(data) - stream.tell()} trailing bytes after the CBOR item")
    return value


def decode_transport(text):
    """HC1 text -> COSE bytes (prefix, Base45, zlib)."""
    if not text.startswith(PREFIX):
        raise Failure("missing the HC1: prefix")
    try:
        compressed = base45.b45decode(text[len(PREFIX):])
    except Exception as e:
        raise Failure(f"invalid Base45 ({e or 'bad character or group'})") from e
    if len(compressed) < 2 or compressed[0] & 0x0F != 8 or (compressed[0] << 8 | compressed[1]) % 31:
        raise Failure("the payload is not zlib compressed")
    try:
        return zlib.decompress(compressed)
    except zlib.error as e:
        raise Failure(f"invalid zlib stream ({e})") from e


def decode_cose_sign1(cose):
    """COSE bytes -> (protected bstr, protected map, unprotected map, payload bstr, signature)."""
    item = cbor_strict_loads(cose, "COSE_Sign1")
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise Failure(f"COSE_Sign1: unexpected CBOR tag {item.tag}")
        item = item.value
    if not isinstance(item, (list, tuple)) or len(item) != 4:
        raise Failure("COSE_Sign1: not an array of four items")
    protected_bstr, unprotected, payload, signature = item
    if not isinstance(protected_bstr, bytes):
        raise Failure("COSE_Sign1: the protected header is not a byte string")
    if not isinstance(unprotected, Mapping):
        raise Failure("COSE_Sign1: the unprotected header is not a map")
    if not isinstance(payload, bytes):
        raise Failure("COSE_Sign1: the payload is not a byte string (detached payloads unsupported)")
    if not isinstance(signature, bytes):
        raise Failure("COSE_Sign1: the signature is not a byte string")
    protected = cbor_strict_loads(protected_bstr, "protected header") if protected_bstr else {}
    if not isinstance(protected, Mapping):
        raise Failure("protected header: not a map")
    return protected_bstr, protected, unprotected, payload, signature


def as_epoch_seconds(value, name, errors):
    """A CWT NumericDate (int, float or tag-1 datetime) as int seconds, else None."""
    if isinstance(value, bool):
        value = None
    elif isinstance(value, datetime.datetime):
        value = value.timestamp()
    elif isinstance(value, cbor2.CBORTag) and value.tag == 1:
        value = value.value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(f"claim {name} is missing or not a NumericDate")
        return None
    return value


def to_json(value):
    """CBOR-decoded value -> JSON-compatible value (for printing the DCC)."""
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, cbor2.CBORTag):
        return {"tag": value.tag, "value": to_json(value.value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------
# Verification


def verify_es256(certificate, protected_bstr, payload, signature):
    """Verifies a raw r||s ES256 signature over the COSE Sig_structure. Returns an error or None."""
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return "the certificate's key is not an ECDSA P-256 key"
    if len(signature) != 2 * P256_COORDINATE_LENGTH:
        return f"an ES256 signature has 64 bytes, this one {len(signature)}"
    r = int.from_bytes(signature[:P256_COORDINATE_LENGTH], "big")
    s = int.from_bytes(signature[P256_COORDINATE_LENGTH:], "big")
    # RFC 9052 section 4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload]
    to_be_signed = cbor2.dumps(["Signature1", protected_bstr, b"", payload])
    try:
        key.verify(encode_dss_signature(r, s), to_be_signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature does not verify with the certificate's key"
    return None


def verify(hc1_text, cert_der, certificate, at):
    result = {
        "signature_valid": False,
        "kid_matches": False,
        "expired": False,
        "not_yet_valid": False,
        "claims_valid": False,
        "iss": None,
        "iat": None,
        "exp": None,
        "dcc": None,
        "kid": None,
        "certificate_kid": None,
        "errors": [],
        "warnings": [],
    }
    errors = result["errors"]
    certificate_kid = hashlib.sha256(cert_der).digest()[:KID_LENGTH]
    result["certificate_kid"] = base64.b64encode(certificate_kid).decode("ascii")
    try:
        cose = decode_transport(hc1_text)
        protected_bstr, protected, unprotected, payload, signature = decode_cose_sign1(cose)
    except Failure as e:
        errors.append(str(e))
        return result

    # Header: ES256, kid in the protected header (the unprotected one is accepted as a fallback).
    alg = protected.get(HEADER_ALG)
    if alg != ALG_ES256:
        errors.append(f"protected header: algorithm {alg!r} is not ES256 (-7)")
    kid = protected.get(HEADER_KID)
    if kid is None:
        kid = unprotected.get(HEADER_KID)
        if kid is not None:
            result["warnings"].append("kid found only in the unprotected header")
    if isinstance(kid, bytes):
        result["kid"] = base64.b64encode(kid).decode("ascii")
        result["kid_matches"] = kid == certificate_kid
        if not result["kid_matches"]:
            errors.append("the kid does not identify the given certificate")
    else:
        errors.append("no kid byte string in the header")

    # Signature.
    if alg == ALG_ES256:
        problem = verify_es256(certificate, protected_bstr, payload, signature)
        if problem:
            errors.append(problem)
        else:
            result["signature_valid"] = True

    # CWT claims.
    try:
        claims = cbor_strict_loads(payload, "CWT claims")
    except Failure as e:
        errors.append(str(e))
        return result
    if isinstance(claims, cbor2.CBORTag) and claims.tag == CWT_TAG:
        claims = claims.value
    if not isinstance(claims, Mapping):
        errors.append("CWT claims: not a map")
        return result
    claim_errors = []
    iss = claims.get(CLAIM_ISS)
    if isinstance(iss, str) and iss:
        result["iss"] = iss
    else:
        claim_errors.append("claim 1 (iss) is missing or not a text string")
    iat = as_epoch_seconds(claims.get(CLAIM_IAT), "6 (iat)", claim_errors)
    exp = as_epoch_seconds(claims.get(CLAIM_EXP), "4 (exp)", claim_errors)
    result["iat"], result["exp"] = iat, exp
    if iat is not None and exp is not None and exp <= iat:
        claim_errors.append("claim 4 (exp) is not after claim 6 (iat)")
    hcert = claims.get(CLAIM_HCERT)
    dcc = hcert.get(HCERT_EU_DCC_V1) if isinstance(hcert, Mapping) else None
    if not isinstance(hcert, Mapping):
        claim_errors.append("claim -260 (hcert) is missing or not a map")
    elif not isinstance(dcc, Mapping):
        claim_errors.append("claim -260 has no EU DCC map under key 1")
    else:
        result["dcc"] = to_json(dcc)
        for field in ("ver", "nam", "dob"):
            if field not in dcc:
                claim_errors.append(f"the DCC has no {field!r}")
        if not any(group in dcc for group in ("v", "t", "r")):
            claim_errors.append("the DCC has no v, t or r entry")
    errors.extend(claim_errors)
    result["claims_valid"] = not claim_errors

    # Validity period (RFC 8392/7519: not valid on or after exp).
    if exp is not None and at >= exp:
        result["expired"] = True
        errors.append("expired")
    if iat is not None and at < iat:
        result["not_yet_valid"] = True
        errors.append("issued after the verification time")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="Independent HCERT (HC1:) verifier.")
    parser.add_argument("--cert", required=True, help="signer certificate: DER, PEM or base64 DER")
    parser.add_argument("--at", required=True, help="verification time, RFC 3339")
    parser.add_argument("hc1_file", help="file holding the HC1: text")
    args = parser.parse_args(argv)
    try:
        at = parse_time(args.at)
    except ValueError as e:
        parser.error(f"--at: {e}")
    try:
        cert_der, certificate = load_certificate(args.cert)
    except (OSError, ValueError) as e:
        print(json.dumps({"errors": [f"cannot read the certificate: {e}"]}))
        return 2
    try:
        with open(args.hc1_file, encoding="utf-8") as f:
            hc1_text = f.read().strip()
    except (OSError, ValueError) as e:
        print(json.dumps({"errors": [f"cannot read the HC1 file: {e}"]}))
        return 2
    result = verify(hc1_text, cert_der, certificate, at)
    print(json.dumps(result, sort_keys=False))
    ok = (
        result["signature_valid"]
        and result["kid_matches"]
        and result["claims_valid"]
        and not result["expired"]
        and not result["not_yet_valid"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
