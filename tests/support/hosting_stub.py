"""A stateful stub of the git hosting API endpoints gitdrift's remediation calls (GitHub's REST
API: git data, refs, pull requests, issues; GitLab's v4 API under /api/v4: projects, branches,
commits with actions, merge requests, notes, raw files; Gitea's and Forgejo's v1 API under
/api/v1: branches, contents, commits, pull requests, labels, comments), for tests. It keeps blobs, trees, commits, refs,
pull requests, labels and comments in memory, refuses requests without the expected bearer token
(401), and records every call (method, path, query, JSON body, auth and accept headers).

Usage: hosting_stub.py PORT TOKEN. Test controls live under /_stub/:
  POST /_stub/seed            {"repo": "o/r", "commit": SHA, "tree": SHA, "default_branch": "main"}
  POST /_stub/foreign_commit  {"repo": "o/r", "branch": B}   someone else commits on top of B
  GET  /_stub/calls           every call so far
  GET  /_stub/state           refs, pull requests, commits
"""

import hashlib
import json
import sys
import urllib.parse

from flask import Flask, jsonify, request

app = Flask(__name__)
TOKEN = sys.argv[2] if len(sys.argv) > 2 else "token"
STATE = {"repos": {}, "calls": []}


def repo(owner, name):
    return STATE["repos"].setdefault(
        f"{owner}/{name}",
        {"default_branch": "main", "objects": {}, "refs": {}, "pulls": [], "comments": {}},
    )


def sha(kind, payload):
    return hashlib.sha1(f"{kind}\0{json.dumps(payload, sort_keys=True)}".encode()).hexdigest()


@app.before_request
def record_and_check():
    if request.path.startswith("/_stub/"):
        return None
    STATE["calls"].append(
        {
            "method": request.method,
            # As sent: an encoded project id (`acme%2Fshop`) stays encoded.
            "path": (request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path).split("?", 1)[0],
            "query": request.query_string.decode(),
            "json": request.get_json(silent=True),
            "authorization": request.headers.get("Authorization"),
            "accept": request.headers.get("Accept"),
            "api_version": request.headers.get("X-GitHub-Api-Version"),
            "private_token": request.headers.get("PRIVATE-TOKEN"),
        }
    )
    if request.path.startswith("/api/v4/"):
        if request.headers.get("PRIVATE-TOKEN") != TOKEN:
            return jsonify({"message": "401 Unauthorized"}), 401
        return None
    if request.path.startswith("/api/v1/"):
        if request.headers.get("Authorization") != f"token {TOKEN}":
            return jsonify({"message": "token is required"}), 401
        return None
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return jsonify({"message": "Bad credentials"}), 401
    return None


@app.post("/_stub/seed")
def seed():
    body = request.get_json()
    owner, name = body["repo"].split("/")
    r = repo(owner, name)
    r["default_branch"] = body.get("default_branch", "main")
    r["objects"][body["commit"]] = {
        "type": "commit",
        "tree": body["tree"],
        "parents": [],
        "author": {"name": "someone", "email": "someone@example.com"},
        "message": "seed",
    }
    r["objects"][body["tree"]] = {"type": "tree", "entries": {}}
    r["refs"][r["default_branch"]] = body["commit"]
    return jsonify({})


@app.post("/_stub/foreign_commit")
def foreign_commit():
    body = request.get_json()
    owner, name = body["repo"].split("/")
    r = repo(owner, name)
    if body["branch"] in r.get("gt_branches", {}):
        tip = r["gt_branches"][body["branch"]]
        commit = {"parents": [tip], "files": dict(r["gt_commits"][tip]["files"]), "author": {"name": "A Reviewer", "email": "reviewer@example.com"}}
        new = sha("commit", dict(commit, n=len(r["gt_commits"])))
        r["gt_commits"][new] = commit
        r["gt_branches"][body["branch"]] = new
        return jsonify({"sha": new})
    if body["branch"] in r.get("branches", {}):
        # GitLab: someone commits on top of the branch.
        tip = r["branches"][body["branch"]]
        commit = dict(r["gl_commits"][tip])
        commit.update(parent_ids=[tip], author_name="A Reviewer", author_email="reviewer@example.com")
        new = sha("commit", dict(commit, n=len(r["gl_commits"])))
        commit["id"] = new
        r["gl_commits"][new] = commit
        r["branches"][body["branch"]] = new
        return jsonify({"sha": new})
    tip = r["refs"][body["branch"]]
    commit = {
        "type": "commit",
        "tree": r["objects"][tip]["tree"],
        "parents": [tip],
        "author": {"name": "A Reviewer", "email": "reviewer@example.com"},
        "message": "review fixes",
    }
    new = sha("commit", commit)
    r["objects"][new] = commit
    r["refs"][body["branch"]] = new
    return jsonify({"sha": new})


@app.post("/_stub/seed_gitlab")
def seed_gitlab():
    body = request.get_json()
    owner, name = body["repo"].split("/")
    r = repo(owner, name)
    r["gl_commits"] = {body["commit"]: {"id": body["commit"], "parent_ids": [], "files": {}, "author_name": "someone", "author_email": "someone@example.com"}}
    r["branches"] = {"main": body["commit"]}
    r["mrs"] = []
    r["notes"] = {}
    return jsonify({})


@app.post("/_stub/seed_gitea")
def seed_gitea():
    body = request.get_json()
    owner, name = body["repo"].split("/")
    r = repo(owner, name)
    r["gt_commits"] = {body["commit"]: {"parents": [], "files": body["files"], "author": {"name": "someone", "email": "someone@example.com"}}}
    r["gt_branches"] = {"main": body["commit"]}
    r["gt_pulls"] = []
    r["gt_comments"] = {}
    r["gt_labels"] = [{"id": 1, "name": "gitdrift"}, {"id": 2, "name": "drift"}]
    return jsonify({})


@app.get("/_stub/calls")
def calls():
    return jsonify(STATE["calls"])


@app.get("/_stub/state")
def state():
    out = {}
    for key, r in STATE["repos"].items():
        out[key] = {
            "refs": r["refs"],
            "pulls": r["pulls"],
            "comments": r["comments"],
            "commits": {k: v for k, v in r["objects"].items() if v["type"] == "commit"},
            "trees": {k: v for k, v in r["objects"].items() if v["type"] == "tree"},
            "branches": r.get("branches", {}),
            "gl_commits": r.get("gl_commits", {}),
            "mrs": r.get("mrs", []),
            "notes": r.get("notes", {}),
            "gt_branches": r.get("gt_branches", {}),
            "gt_commits": r.get("gt_commits", {}),
            "gt_pulls": r.get("gt_pulls", []),
            "gt_comments": r.get("gt_comments", {}),
        }
    return jsonify(out)


@app.get("/repos/<owner>/<name>")
def get_repo(owner, name):
    r = repo(owner, name)
    return jsonify({"full_name": f"{owner}/{name}", "default_branch": r["default_branch"]})


@app.get("/repos/<owner>/<name>/git/commits/<sha_>")
def get_commit(owner, name, sha_):
    obj = repo(owner, name)["objects"].get(sha_)
    if not obj or obj["type"] != "commit":
        return jsonify({"message": "Not Found"}), 404
    return jsonify(
        {
            "sha": sha_,
            "tree": {"sha": obj["tree"]},
            "parents": [{"sha": p} for p in obj["parents"]],
            "author": obj["author"],
            "message": obj["message"],
        }
    )


@app.post("/repos/<owner>/<name>/git/blobs")
def create_blob(owner, name):
    body = request.get_json()
    if body.get("encoding") != "utf-8" or not isinstance(body.get("content"), str):
        return jsonify({"message": "Invalid request: content and encoding utf-8"}), 422
    s = sha("blob", body["content"])
    repo(owner, name)["objects"][s] = {"type": "blob", "content": body["content"]}
    return jsonify({"sha": s}), 201


@app.post("/repos/<owner>/<name>/git/trees")
def create_tree(owner, name):
    r = repo(owner, name)
    body = request.get_json()
    base = r["objects"].get(body.get("base_tree"))
    if base is None or base["type"] != "tree":
        return jsonify({"message": "base_tree not found"}), 422
    entries = dict(base["entries"])
    for e in body["tree"]:
        if e.get("mode") != "100644" or e.get("type") != "blob" or e.get("sha") not in r["objects"]:
            return jsonify({"message": f"bad tree entry {e}"}), 422
        entries[e["path"]] = e["sha"]
    tree = {"type": "tree", "entries": entries, "base": body["base_tree"]}
    s = sha("tree", tree)
    r["objects"][s] = tree
    return jsonify({"sha": s}), 201


@app.post("/repos/<owner>/<name>/git/commits")
def create_commit(owner, name):
    r = repo(owner, name)
    body = request.get_json()
    if body.get("tree") not in r["objects"] or any(p not in r["objects"] for p in body["parents"]):
        return jsonify({"message": "tree or parent not found"}), 422
    commit = {
        "type": "commit",
        "tree": body["tree"],
        "parents": body["parents"],
        "author": {"name": body["author"]["name"], "email": body["author"]["email"]},
        "message": body["message"],
    }
    s = sha("commit", dict(commit, date=body["author"].get("date")))
    r["objects"][s] = commit
    return jsonify({"sha": s}), 201


@app.get("/repos/<owner>/<name>/git/ref/heads/<path:branch>")
def get_ref(owner, name, branch):
    r = repo(owner, name)
    if branch not in r["refs"]:
        return jsonify({"message": "Not Found"}), 404
    return jsonify({"ref": f"refs/heads/{branch}", "object": {"sha": r["refs"][branch], "type": "commit"}})


@app.post("/repos/<owner>/<name>/git/refs")
def create_ref(owner, name):
    r = repo(owner, name)
    body = request.get_json()
    branch = body["ref"].removeprefix("refs/heads/")
    if branch in r["refs"]:
        return jsonify({"message": "Reference already exists"}), 422
    r["refs"][branch] = body["sha"]
    return jsonify({"ref": body["ref"], "object": {"sha": body["sha"]}}), 201


@app.patch("/repos/<owner>/<name>/git/refs/heads/<path:branch>")
def update_ref(owner, name, branch):
    r = repo(owner, name)
    body = request.get_json()
    if branch == r["default_branch"]:
        return jsonify({"message": "stub: gitdrift must never write the default branch"}), 403
    old = r["refs"].get(branch)
    new = body["sha"]
    # A non-forced update must be a fast-forward.
    if not body.get("force") and old not in r["objects"][new]["parents"]:
        return jsonify({"message": "Update is not a fast forward"}), 422
    r["refs"][branch] = new
    return jsonify({"ref": f"refs/heads/{branch}", "object": {"sha": new}})


@app.delete("/repos/<owner>/<name>/git/refs/heads/<path:branch>")
def delete_ref(owner, name, branch):
    r = repo(owner, name)
    r["refs"].pop(branch, None)
    return "", 204


@app.get("/repos/<owner>/<name>/pulls")
def list_pulls(owner, name):
    r = repo(owner, name)
    state_ = request.args.get("state", "open")
    head = request.args.get("head", "")
    out = [
        p
        for p in r["pulls"]
        if (state_ == "all" or p["state"] == state_) and (not head or f"{owner}:{p['head']['ref']}" == head)
    ]
    return jsonify(out)


@app.post("/repos/<owner>/<name>/pulls")
def create_pull(owner, name):
    r = repo(owner, name)
    body = request.get_json()
    if body["head"] not in r["refs"] or body["base"] not in r["refs"]:
        return jsonify({"message": "head or base branch not found"}), 422
    number = len(r["pulls"]) + 1
    pull = {
        "number": number,
        "state": "open",
        "title": body["title"],
        "body": body["body"],
        "head": {"ref": body["head"]},
        "base": {"ref": body["base"]},
        "labels": [],
        "html_url": f"http://stub/{owner}/{name}/pull/{number}",
    }
    r["pulls"].append(pull)
    return jsonify(pull), 201


@app.patch("/repos/<owner>/<name>/pulls/<int:number>")
def update_pull(owner, name, number):
    r = repo(owner, name)
    pull = next((p for p in r["pulls"] if p["number"] == number), None)
    if pull is None:
        return jsonify({"message": "Not Found"}), 404
    for key in ("title", "body", "state"):
        if key in request.get_json():
            pull[key] = request.get_json()[key]
    return jsonify(pull)


@app.post("/repos/<owner>/<name>/issues/<int:number>/labels")
def add_labels(owner, name, number):
    r = repo(owner, name)
    pull = next((p for p in r["pulls"] if p["number"] == number), None)
    if pull is None:
        return jsonify({"message": "Not Found"}), 404
    pull["labels"] = sorted(set(pull["labels"]) | set(request.get_json()["labels"]))
    return jsonify([{"name": n} for n in pull["labels"]])


@app.get("/repos/<owner>/<name>/issues/<int:number>/comments")
def list_comments(owner, name, number):
    return jsonify(repo(owner, name)["comments"].get(str(number), []))


@app.post("/repos/<owner>/<name>/issues/<int:number>/comments")
def add_comment(owner, name, number):
    comments = repo(owner, name)["comments"].setdefault(str(number), [])
    comment = {"id": len(comments) + 1, "body": request.get_json()["body"]}
    comments.append(comment)
    return jsonify(comment), 201


# GitLab: /api/v4/projects/<url-encoded group/name>/..., routed by hand because the encoded
# slash in the project id must not split the path.
def gitlab_route():
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    raw = raw.split("?", 1)[0]
    parts = raw.split("/")[4:]  # after /api/v4/projects
    project = urllib.parse.unquote(parts[0])
    rest = [urllib.parse.unquote(p) for p in parts[1:]]
    owner, name = project.split("/", 1)
    return repo(owner, name), rest


@app.route("/api/v4/projects/<path:anything>", methods=["GET", "POST", "PUT", "DELETE"])
def gitlab(anything):
    r, rest = gitlab_route()
    m = request.method
    body = request.get_json(silent=True) or {}
    if rest == [] and m == "GET":
        return jsonify({"default_branch": r["default_branch"] if "branches" not in r else "main"})
    if rest[:2] == ["repository", "branches"] and len(rest) == 3:
        branch = rest[2]
        if branch not in r["branches"]:
            return jsonify({"message": "404 Branch Not Found"}), 404
        if m == "DELETE":
            if branch == "main":
                return jsonify({"message": "stub: never the default branch"}), 403
            del r["branches"][branch]
            return "", 204
        c = r["gl_commits"][r["branches"][branch]]
        return jsonify({"name": branch, "commit": {k: c[k] for k in ("id", "parent_ids", "author_name", "author_email")}})
    if rest == ["repository", "commits"] and m == "POST":
        branch = body["branch"]
        if branch == "main":
            return jsonify({"message": "stub: gitdrift must never write the default branch"}), 403
        start = body.get("start_sha")
        if start not in r["gl_commits"]:
            return jsonify({"message": "start_sha not found"}), 400
        if branch in r["branches"] and not body.get("force"):
            return jsonify({"message": "A branch called this already exists"}), 400
        files = dict(r["gl_commits"][start]["files"])
        for a in body["actions"]:
            if a["action"] not in ("update", "create") or "content" not in a:
                return jsonify({"message": f"bad action {a}"}), 400
            files[a["file_path"]] = a["content"]
        commit = {"id": "", "parent_ids": [start], "files": files, "author_name": body["author_name"], "author_email": body["author_email"], "message": body["commit_message"]}
        commit["id"] = sha("commit", dict(commit, n=len(r["gl_commits"])))
        r["gl_commits"][commit["id"]] = commit
        r["branches"][branch] = commit["id"]
        return jsonify({"id": commit["id"]}), 201
    if rest == ["repository", "compare"]:
        frm = r["gl_commits"].get(request.args.get("from"))
        to = r["gl_commits"].get(r["branches"].get(request.args.get("to"), request.args.get("to")))
        if frm is None or to is None:
            return jsonify({"message": "404 Not found"}), 404
        paths = sorted(set(frm["files"]) | set(to["files"]))
        diffs = [{"old_path": p, "new_path": p} for p in paths if frm["files"].get(p) != to["files"].get(p)]
        return jsonify({"diffs": diffs})
    if rest[:2] == ["repository", "files"] and len(rest) == 4 and rest[3] == "raw":
        ref = request.args.get("ref")
        c = r["gl_commits"].get(r["branches"].get(ref, ""))
        if c is None or rest[2] not in c["files"]:
            return jsonify({"message": "404 File Not Found"}), 404
        return c["files"][rest[2]], 200, {"Content-Type": "text/plain"}
    if rest == ["merge_requests"]:
        if m == "GET":
            state_ = request.args.get("state", "opened")
            src = request.args.get("source_branch")
            return jsonify([x for x in r["mrs"] if x["state"] == state_ and (not src or x["source_branch"] == src)])
        if m == "POST":
            if body["source_branch"] not in r["branches"]:
                return jsonify({"message": "source branch not found"}), 400
            iid = len(r["mrs"]) + 1
            mr = {"iid": iid, "state": "opened", "title": body["title"], "description": body["description"],
                  "source_branch": body["source_branch"], "target_branch": body["target_branch"],
                  "labels": [l for l in body.get("labels", "").split(",") if l],
                  "web_url": f"http://stub/{r.get('name', 'gitlab')}/-/merge_requests/{iid}"}
            r["mrs"].append(mr)
            return jsonify(mr), 201
    if len(rest) >= 2 and rest[0] == "merge_requests":
        mr = next((x for x in r["mrs"] if str(x["iid"]) == rest[1]), None)
        if mr is None:
            return jsonify({"message": "404 Not found"}), 404
        if len(rest) == 2 and m == "PUT":
            for key in ("title", "description"):
                if key in body:
                    mr[key] = body[key]
            if body.get("state_event") == "close":
                mr["state"] = "closed"
            return jsonify(mr)
        if len(rest) == 3 and rest[2] == "notes":
            notes = r["notes"].setdefault(rest[1], [])
            if m == "GET":
                return jsonify(notes)
            note = {"id": len(notes) + 1, "body": body["body"]}
            notes.append(note)
            return jsonify(note), 201
    return jsonify({"message": f"stub: no route {m} {rest}"}), 404


def blob_sha(text):
    return hashlib.sha1(text.encode()).hexdigest()


@app.route("/api/v1/repos/<owner>/<name>/<path:rest>", methods=["GET", "POST", "PATCH", "DELETE"])
@app.route("/api/v1/repos/<owner>/<name>", defaults={"rest": ""}, methods=["GET"])
def gitea(owner, name, rest):
    import base64

    r = repo(owner, name)
    m = request.method
    body = request.get_json(silent=True) or {}
    parts = [p for p in rest.split("/") if p]
    if not parts:
        return jsonify({"default_branch": "main", "full_name": f"{owner}/{name}"})
    if parts[0] == "branches":
        if len(parts) == 1 and m == "POST":
            if body["new_branch_name"] in r["gt_branches"]:
                return jsonify({"message": "branch exists"}), 409
            if body["old_ref_name"] not in r["gt_commits"]:
                return jsonify({"message": "ref not found"}), 404
            r["gt_branches"][body["new_branch_name"]] = body["old_ref_name"]
            return jsonify({"name": body["new_branch_name"]}), 201
        branch = "/".join(parts[1:])
        if branch not in r["gt_branches"]:
            return jsonify({"message": "branch not found"}), 404
        if m == "DELETE":
            if branch == "main":
                return jsonify({"message": "stub: never the default branch"}), 403
            del r["gt_branches"][branch]
            return "", 204
        c = r["gt_commits"][r["gt_branches"][branch]]
        return jsonify({"name": branch, "commit": {"id": r["gt_branches"][branch], "author": c["author"]}})
    if parts[:2] == ["git", "commits"]:
        c = r["gt_commits"].get(parts[2])
        if c is None:
            return jsonify({"message": "not found"}), 404
        return jsonify({"sha": parts[2], "parents": [{"sha": p} for p in c["parents"]], "commit": {"author": c["author"]}})
    if parts[0] == "contents":
        if len(parts) == 1 and m == "POST":
            branch = body["branch"]
            if branch == "main":
                return jsonify({"message": "stub: gitdrift must never write the default branch"}), 403
            tip = r["gt_branches"][branch]
            files = dict(r["gt_commits"][tip]["files"])
            for f in body["files"]:
                if f["operation"] in ("update", "delete"):
                    if f["path"] not in files or blob_sha(files[f["path"]]) != f.get("sha"):
                        return jsonify({"message": "sha does not match"}), 409
                elif f["operation"] != "create":
                    return jsonify({"message": "bad operation"}), 422
                if f["operation"] == "delete":
                    del files[f["path"]]
                else:
                    files[f["path"]] = base64.b64decode(f["content"]).decode()
            commit = {"parents": [tip], "files": files, "author": body["author"], "message": body["message"]}
            new = sha("commit", dict(commit, n=len(r["gt_commits"])))
            r["gt_commits"][new] = commit
            r["gt_branches"][branch] = new
            return jsonify({"commit": {"sha": new}}), 201
        path = "/".join(parts[1:])
        ref = request.args.get("ref")
        commit_id = r["gt_branches"].get(ref, ref)
        c = r["gt_commits"].get(commit_id)
        if c is None or path not in c["files"]:
            return jsonify({"message": "not found"}), 404
        text = c["files"][path]
        return jsonify({"sha": blob_sha(text), "content": base64.b64encode(text.encode()).decode(), "encoding": "base64"})
    if parts == ["labels"]:
        return jsonify(r["gt_labels"])
    if parts == ["pulls"]:
        if m == "GET":
            return jsonify([p for p in r["gt_pulls"] if p["state"] == request.args.get("state", "open")])
        if body["head"] not in r["gt_branches"]:
            return jsonify({"message": "head not found"}), 422
        number = len(r["gt_pulls"]) + 1
        names = [l["name"] for l in r["gt_labels"] if l["id"] in body.get("labels", [])]
        pull = {"number": number, "state": "open", "title": body["title"], "body": body["body"],
                "head": {"ref": body["head"]}, "base": {"ref": body["base"]}, "labels": names,
                "html_url": f"http://stub/{owner}/{name}/pulls/{number}"}
        r["gt_pulls"].append(pull)
        return jsonify(pull), 201
    if parts[0] == "pulls" and len(parts) == 2 and m == "PATCH":
        pull = next((p for p in r["gt_pulls"] if str(p["number"]) == parts[1]), None)
        for key in ("title", "body", "state"):
            if key in body:
                pull[key] = body[key]
        return jsonify(pull)
    if parts[0] == "issues" and len(parts) == 3 and parts[2] == "comments":
        comments = r["gt_comments"].setdefault(parts[1], [])
        if m == "GET":
            return jsonify(comments)
        comment = {"id": len(comments) + 1, "body": body["body"]}
        comments.append(comment)
        return jsonify(comment), 201
    return jsonify({"message": f"stub: no route {m} {parts}"}), 404


if __name__ == "__main__":
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
