#!/usr/bin/env python3
"""push_stub.py DIR [STATUS] — a stand-in for Pyroscope's and Parca's push
endpoints for check_views.sh. Listens on 127.0.0.1 (port printed on the
first line of stdout), answers STATUS (default 200) to

  POST /ingest?name=APP&from=F&until=U&format=pprof   multipart: profile,
       sample_type_config (Pyroscope)
  POST /profiles/writeraw   JSON {series: [{labels: {labels: [...]},
       samples: [{raw_profile: base64}]}]} (Parca's WriteRaw, HTTP mapping)

and checks each request as the real server would need it: the fields are
there, the profile is gzipped pprof whose sample types the
sample_type_config names, from < until. Each request becomes one JSON line
in DIR/requests.jsonl ({"path", "ok", "why", "types", "name", ...}) and its
profile DIR/<n>.pb.gz, for go tool pprof."""
import base64
import email.parser
import email.policy
import gzip
import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT, STATUS = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
count = 0


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, t = key >> 3, key & 7
        if t == 0:
            v, i = varint(b, i)
        elif t == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif t == 1:
            v, i = b[i:i + 8], i + 8
        elif t == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % t)
        yield f, t, v


def sample_types(gz):
    """The sample type names of a gzipped pprof profile."""
    raw = gzip.decompress(gz)
    strings, types = [], []
    for f, t, v in fields(raw):
        if f == 6 and t == 2:
            strings.append(v.decode())
        elif f == 1 and t == 2:
            types.append(dict((ff, vv) for ff, _, vv in fields(v)).get(1, 0))
    if not strings or strings[0] != "":
        raise ValueError("string_table[0] is not empty")
    return [strings[i] for i in types]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        url = urllib.parse.urlsplit(self.path)
        rec = {"path": url.path, "query": dict(urllib.parse.parse_qsl(url.query))}
        try:
            prof = self.pyroscope(body, rec) if url.path == "/ingest" else self.parca(body, rec)
            count += 1
            with open(os.path.join(OUT, "%d.pb.gz" % count), "wb") as f:
                f.write(prof)
            rec["ok"], rec["file"] = True, "%d.pb.gz" % count
        except Exception as e:  # every problem is a finding of the test
            rec["ok"], rec["why"] = False, "%s: %s" % (type(e).__name__, e)
        with open(os.path.join(OUT, "requests.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(STATUS if rec["ok"] else 400)
        self.end_headers()
        self.wfile.write(b"stub\n")

    def pyroscope(self, body, rec):
        q = rec["query"]
        if not q.get("name") or q.get("format") != "pprof" or int(q["from"]) >= int(q["until"]):
            raise ValueError("bad query %s" % q)
        ctype = self.headers.get("Content-Type", "")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
                 for p in msg.iter_parts()}
        prof, config = parts["profile"], json.loads(parts["sample_type_config"])
        rec["name"], rec["types"] = q["name"], sample_types(prof)
        for t in rec["types"]:
            c = config.get(t)
            if t != "samples" and (not c or c["aggregation"] not in ("sum", "average")
                                   or not c["units"] or "display-name" not in c):
                raise ValueError("sample type %s not configured in %s" % (t, config))
        return prof

    def parca(self, body, rec):
        if self.path != "/profiles/writeraw":
            raise ValueError("unknown path")
        req = json.loads(body)
        series = req["series"][0]
        labels = {l["name"]: l["value"] for l in series["labels"]["labels"]}
        prof = base64.b64decode(series["samples"][0]["raw_profile"], validate=True)
        rec["name"], rec["job"], rec["types"] = labels["__name__"], labels["job"], sample_types(prof)
        return prof


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
