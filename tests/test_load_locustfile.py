"""The load test's locustfile still matches the app: it imports, every user class keeps the baseline at
the same share, and every path and link pattern it uses resolves in the URLconf.

The locustfile is imported in a child interpreter: importing locust monkey-patches the standard
library with gevent, which must not happen inside the test process.
"""

import importlib.util
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve, reverse

LOCUSTFILE = Path(__file__).resolve().parents[1] / "benchmarks" / "load" / "locustfile.py"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="locust is not installed (the `bench` extra: pip install -e '.[bench]')",
)

DUMP = """
import json, sys
sys.path.insert(0, sys.argv[1])
import locustfile as lf
from locust import User
classes = {}
for name, obj in vars(lf).items():
    if isinstance(obj, type) and issubclass(obj, User) and obj is not User and not obj.__dict__.get("abstract"):
        weights = {}
        for t in obj.tasks:
            weights[t.__name__] = weights.get(t.__name__, 0) + 1
        classes[name] = {"weights": weights, "pool": obj.pool}
print(json.dumps({
    "pages": lf.PAGES,
    "links": lf.LINKS,
    "classes": classes,
    "baseline_weight": lf.BASELINE_WEIGHT,
    "total": lf.TASK_WEIGHT_TOTAL,
}))
"""


@pytest.fixture(scope="module")
def locustfile() -> dict:
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", DUMP, str(LOCUSTFILE.parent)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_page_the_load_test_requests_resolves(locustfile):
    some_id = str(uuid.uuid4())
    for key, template in locustfile["pages"].items():
        path = template.format(p="/p/scale/", id=some_id)
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"PAGES[{key!r}] = {path} does not resolve")


def test_every_link_pattern_matches_its_route(locustfile):
    for key, (pattern, url_name, kwarg_names) in locustfile["links"].items():
        kwargs = {name: uuid.uuid4() for name in kwarg_names}
        if not url_name.startswith("portal_"):
            kwargs["practice_slug"] = "scale"
        url = reverse(url_name, kwargs=kwargs)
        assert re.search(pattern, url), f"LINKS[{key!r}] = {pattern} does not match {url}"


def test_every_user_class_requests_the_baseline_at_the_same_share(locustfile):
    classes = locustfile["classes"]
    assert set(classes) == {"Clinician", "FrontDesk", "Patient", "Biller", "Admin"}
    for name, info in classes.items():
        weights = info["weights"]
        assert weights.get("baseline") == locustfile["baseline_weight"], name
        assert sum(weights.values()) == locustfile["total"], name
        assert info["pool"], name
