"""200 generated malformed requests: every one answered 4xx with a message, and the server serves on."""
from __future__ import annotations

import base64
import json
import random
import socket

import httpx

from serve_util import HOST, digits_rows

N_FUZZ = 200


def _floats(rng, n):
    return [round(rng.uniform(0, 16), 2) for _ in range(n)]


def _json_body(rng):
    """A JSON body that is valid JSON but not a valid request."""
    choices = [
        lambda: {"inputs": rng.choice([5, "row", None, {"a": 1}, 1.5, True])},
        lambda: {"inputs": [_floats(rng, rng.choice([0, 1, 8, 63, 65, 128]))]},
        lambda: {"inputs": [_floats(rng, 64), _floats(rng, rng.randint(1, 63))]},
        lambda: {"inputs": [[*_floats(rng, 63), rng.choice(["x", None, [1], {"k": 2}])]]},
        lambda: {"inputs": [[True] * 64]},
        lambda: {"inputs": [[_floats(rng, 8)] * rng.choice([2, 7, 9])]},
        lambda: {"inputs": [[[[_floats(rng, 3)]]]]},
        lambda: {"inputs": []},
        lambda: {"inputs": [[2 ** 70] * 64]},
        lambda: {"inputs": _floats(rng, 64)},
        lambda: {"texts": ["a digit", "another"]},
        lambda: {"images": ["%%%not-base64%%%"]},
        lambda: {"images": [base64.b64encode(rng.randbytes(rng.randint(1, 300))).decode()]},
        lambda: {"images": []},
        lambda: {"images": [7]},
        lambda: {"rows": [_floats(rng, 64)]},
        lambda: {"inputs": [_floats(rng, 64)], "images": ["AAAA"]},
        lambda: {},
        lambda: rng.choice([[1, 2, 3], "inputs", 42, None, [[1.0] * 64]]),
    ]
    return json.dumps(rng.choice(choices)()).encode()


def _nonfinite_body(rng):
    row = [str(v) for v in _floats(rng, 64)]
    row[rng.randrange(64)] = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
    return ('{"inputs": [[' + ", ".join(row) + "]]}").encode()


def _multipart(rng, boundary, parts, close=True):
    out = b""
    for name, filename, ctype, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\nContent-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


def _requests(rng):
    """(method, path, headers, body) of malformed requests, N_FUZZ of them, of every kind."""
    json_ct = {"content-type": "application/json"}
    kinds = [
        lambda: ("POST", "/predict", json_ct, rng.randbytes(rng.randint(1, 2000))),
        lambda: ("POST", "/predict", json_ct, _json_body(rng)),
        lambda: ("POST", "/predict", json_ct, _json_body(rng)),
        lambda: ("POST", "/predict", json_ct, _nonfinite_body(rng)),
        lambda: ("POST", "/predict", json_ct, b'{"inputs": [[1, 2,' + rng.randbytes(rng.randint(0, 20))),
        lambda: ("POST", "/predict", json_ct, b"[" * rng.choice([10000, 200000])),
        lambda: ("POST", "/predict", json_ct, b""),
        lambda: ("POST", "/predict", {"content-type": rng.choice(["text/plain", "application/xml", "image/png",
                                                                  "application/x-www-form-urlencoded",
                                                                  "multipart/form-data; boundary=x"])},
                 json.dumps({"inputs": [_floats(rng, 64)]}).encode()),
        lambda: ("POST", "/predict/file", json_ct, json.dumps({"inputs": [_floats(rng, 64)]}).encode()),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data"}, b"--x\r\n\r\nno boundary"),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "xyz", [("file", "a.png", "image/png", rng.randbytes(50))])),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "abc", [("file", "a.csv", "text/csv", b"1,2,3\n4,5\n")], close=rng.random() < 0.5)),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "abc", [("file", rng.choice(["a.png", "a.bin", "x"]), "application/octet-stream",
                                          rng.randbytes(rng.randint(0, 500)))])),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "abc", [("file", "rows.csv", "text/csv",
                                          b"\n".join(b",".join(b"1" for _ in range(rng.choice([3, 63, 65])))
                                                     for _ in range(2)))])),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "abc", [("file", "rows.csv", "text/csv", b"a,b,c\n1,x,3\n")])),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "abc", [("note", None, "text/plain", b"no file here")])),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "abc", [("file", "t.txt", "text/plain", b"some text\n")])),
        lambda: ("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
                 _multipart(rng, "abc", [("file", "x.npy", "application/octet-stream",
                                          b"\x93NUMPY" + rng.randbytes(40))])),
        lambda: (rng.choice(["GET", "PUT", "DELETE"]), "/predict", {}, b""),
        lambda: ("POST", rng.choice(["/nope", "/predict/", "/health", "/metrics/x"]), json_ct, b"{}"),
    ]
    out = [kinds[i % len(kinds)]() for i in range(N_FUZZ - 8)]
    big = b'{"inputs": [[' + b"1, " * 360000 + b"1]]}"  # ~1.1 MB, over the 1 MiB limit
    out += [("POST", "/predict", json_ct, big)] * 3
    out += [("POST", "/predict/file", {"content-type": "multipart/form-data; boundary=abc"},
             _multipart(rng, "abc", [("file", "big.csv", "text/csv", b"1," * 600000 + b"1\n")]))]
    out += [("POST", "/predict", json_ct, iter([b'{"inputs": [[', b"1, " * 200000, b"1, " * 200000, b"1]]}"]))] * 2
    out += [("POST", "/predict", json_ct, rng.randbytes(1 << 20 | 7))] * 2  # random and huge
    rng.shuffle(out)
    assert len(out) == N_FUZZ
    return out


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_fuzz_200_malformed_requests_all_4xx(servers):
    server = servers["lamina"]
    rng = random.Random(1234)
    before = httpx.get(server.url + "/metrics").json()
    statuses = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, path, headers, body in _requests(rng):
            r = client.request(method, path, headers=headers, content=body)
            statuses.append(r.status_code)
            assert 400 <= r.status_code < 500, (method, path, headers, r.status_code, r.text[:300])
            assert r.headers["content-type"].startswith("application/json"), r.text[:200]
            assert r.json()["error"], r.text
    assert {400, 404, 405, 413, 415, 422} <= set(statuses)
    assert server.proc.poll() is None
    after = httpx.get(server.url + "/metrics").json()
    assert after["errors"] - before["errors"] == N_FUZZ
    # garbage that is not even HTTP: uvicorn answers 400 and closes
    for data in (b"\x00\xff garbage\r\n\r\n", b"POST /predict HTTP/9.9\r\n\r\n", rng.randbytes(300) + b"\r\n\r\n"):
        answer = _raw(server.port, data)
        assert answer.startswith(b"HTTP/1.1 4"), answer[:100]
    # the server is fine
    assert httpx.get(server.url + "/health").status_code == 200
    r = httpx.post(server.url + "/predict", json={"inputs": digits_rows(2).tolist()})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2
