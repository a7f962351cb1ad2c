"""Regenerate the PyPA vectors under this directory.

Inputs are the string literals and parametrize tuples of pypa/packaging's own tests
(tests/test_version.py, test_specifiers.py, test_markers.py, test_requirements.py,
test_utils.py); verdicts are what pypa/packaging's src/ says for each of them. Run with
PYTHONPATH pointing at a pypa/packaging checkout's src/:

    PYTHONPATH=$PKG/src python3 gen.py $PKG/tests

pypa/packaging is dual licensed Apache-2.0 / BSD-2-Clause; see LICENSE.txt here.
"""
import ast, json, sys, itertools
from packaging.version import Version, InvalidVersion
from packaging.specifiers import Specifier, SpecifierSet, InvalidSpecifier
from packaging.markers import Marker, InvalidMarker, default_environment
from packaging.requirements import Requirement, InvalidRequirement
from packaging import utils, tags, _manylinux

tests = sys.argv[1]

def strings(path):
    tree = ast.parse(open(path).read())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
    seen = set()
    return [s for s in out if not (s in seen or seen.add(s))]

def tuples(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple):
            try:
                v = ast.literal_eval(node)
            except Exception:
                continue
            if all(isinstance(x, (str, bool, type(None))) for x in v):
                yield v

def dump(name, obj):
    with open(name, "w") as f:
        json.dump(obj, f, indent=0, sort_keys=True)
        f.write("\n")

def parse_v(s):
    try:
        return Version(s)
    except (InvalidVersion, TypeError, ValueError):
        return None

# --- versions
vstr = strings(f"{tests}/test_version.py") + strings(f"{tests}/test_specifiers.py")
vstr = [s for s in dict.fromkeys(vstr) if len(s) < 80 and "\n" not in s]
versions = []
valid = []
for s in vstr:
    v = parse_v(s)
    if v is None:
        # Only keep invalid strings that look like attempted versions.
        if s and (s[0].isdigit() or s[0] in "vV") :
            versions.append({"in": s, "ok": False})
        continue
    valid.append(v)
    versions.append({"in": s, "ok": True, "norm": str(v), "epoch": v.epoch,
        "release": list(v.release), "pre": list(v.pre) if v.pre else None,
        "post": v.post, "dev": v.dev, "local": v.local, "public": v.public,
        "base": v.base_version, "is_pre": v.is_prerelease})
dump("versions.json", versions)
# Total order: groups of equal versions, ascending.
valid = sorted(set(valid))
dump("order.json", [str(v) for v in valid])

# --- specifiers
sstr = strings(f"{tests}/test_specifiers.py")
specs = []
validspecs = []
for s in sstr:
    if not s or len(s) > 80 or s[0].isalpha():
        continue
    try:
        ss = SpecifierSet(s)
    except (InvalidSpecifier, ValueError):
        if s[0] in "<>=!~":
            specs.append({"in": s, "ok": False})
        continue
    if not any(c in s for c in "<>=!~"):
        continue
    validspecs.append(s)
    specs.append({"in": s, "ok": True, "norm": str(ss),
                  "prereleases": ss.prereleases})
dump("specifiers.json", specs)
pairs = set()
for t in tuples(f"{tests}/test_specifiers.py"):
    strs = [x for x in t if isinstance(x, str)]
    vs = [x for x in strs if parse_v(x) is not None]
    sp = [x for x in strs if x in validspecs]
    for a in vs:
        for b in sp:
            pairs.add((b, a))
# A cross product of single specifiers with a spread of versions.
spread = ["1.0", "1.0.dev1", "1.0a1", "1.0.post1", "1.0+local", "1!1.0", "2.0", "2.0rc1",
          "1.4.5", "1.5", "0.9", "3.0.0", "2.0.1", "1.0.0"]
for s in validspecs:
    for v in spread:
        pairs.add((s, v))
rows = []
for s, v in sorted(pairs):
    ss = SpecifierSet(s)
    rows.append([s, v, ss.contains(v), ss.contains(v, prereleases=True)])
dump("contains.json", rows)

# --- markers
envs = {
    "linux-cp312": {"implementation_name": "cpython", "implementation_version": "3.12.4",
        "os_name": "posix", "platform_machine": "x86_64", "platform_release": "6.1.0",
        "platform_system": "Linux", "platform_version": "#1 SMP", "python_full_version": "3.12.4",
        "platform_python_implementation": "CPython", "python_version": "3.12",
        "sys_platform": "linux", "extra": ""},
    "linux-cp38-arm": {"implementation_name": "cpython", "implementation_version": "3.8.10",
        "os_name": "posix", "platform_machine": "aarch64", "platform_release": "5.10",
        "platform_system": "Linux", "platform_version": "#1", "python_full_version": "3.8.10",
        "platform_python_implementation": "CPython", "python_version": "3.8",
        "sys_platform": "linux", "extra": "security"},
    "win-cp310": {"implementation_name": "cpython", "implementation_version": "3.10.0",
        "os_name": "nt", "platform_machine": "AMD64", "platform_release": "10",
        "platform_system": "Windows", "platform_version": "10.0.19041", "python_full_version": "3.10.0",
        "platform_python_implementation": "CPython", "python_version": "3.10",
        "sys_platform": "win32", "extra": "test"},
    "mac-pypy39": {"implementation_name": "pypy", "implementation_version": "7.3.11",
        "os_name": "posix", "platform_machine": "arm64", "platform_release": "22.1.0",
        "platform_system": "Darwin", "platform_version": "Darwin Kernel", "python_full_version": "3.9.16",
        "platform_python_implementation": "PyPy", "python_version": "3.9",
        "sys_platform": "darwin", "extra": ""},
}
mstr = strings(f"{tests}/test_markers.py") + strings(f"{tests}/test_requirements.py")
mrows = []
for s in dict.fromkeys(mstr):
    if not s or len(s) > 200 or "\n" in s:
        continue
    try:
        m = Marker(s)
    except InvalidMarker:
        if any(k in s for k in ("python_version", "os_name", "sys_platform", "extra", "platform_")):
            mrows.append({"in": s, "ok": False})
        continue
    res = {}
    for name, env in envs.items():
        try:
            res[name] = m.evaluate(dict(env))
        except Exception as e:  # undefined comparisons
            res[name] = None
    mrows.append({"in": s, "ok": True, "norm": str(m), "eval": res})
dump("markers.json", {"envs": envs, "markers": mrows})

# --- requirements
rrows = []
for s in dict.fromkeys(strings(f"{tests}/test_requirements.py")):
    if not s or len(s) > 200 or "\n" in s:
        continue
    try:
        r = Requirement(s)
    except InvalidRequirement:
        rrows.append({"in": s, "ok": False})
        continue
    rrows.append({"in": s, "ok": True, "name": r.name, "extras": sorted(r.extras),
        "specifier": str(r.specifier), "url": r.url,
        "marker": str(r.marker) if r.marker else None, "norm": str(r)})
dump("requirements.json", rrows)

# --- names and wheel file names
names = []
wheels = []
for s in dict.fromkeys(strings(f"{tests}/test_utils.py")):
    if s.endswith(".whl"):
        try:
            n, v, b, t = utils.parse_wheel_filename(s)
            wheels.append({"in": s, "ok": True, "name": n, "version": str(v),
                "build": list(b) if b else None, "tags": sorted(str(x) for x in t)})
        except (utils.InvalidWheelFilename, InvalidVersion):
            wheels.append({"in": s, "ok": False})
    elif s and len(s) < 60 and " " not in s:
        names.append([s, utils.canonicalize_name(s), utils.is_normalized_name(s)])
dump("names.json", names)
dump("wheels.json", wheels)

# --- tags for a target: CPython X.Y on Linux ARCH with glibc 2.N
def target_tags(py, arch, glibc):
    _manylinux._get_glibc_version = lambda: glibc
    _manylinux._is_compatible = lambda a, v: v <= _manylinux._GLibCVersion(*glibc)
    _manylinux._have_compatible_abi = lambda exe, archs: True
    plats = list(_manylinux.platform_tags([arch])) + [f"linux_{arch}"]
    abi = f"cp{py[0]}{py[1]}"
    out = list(tags.cpython_tags(py, [abi], plats)) + list(tags.compatible_tags(py, abi, plats))
    return [str(t) for t in out]
dump("tags.json", {f"cp{p[0]}{p[1]}-{a}-glibc{g[0]}.{g[1]}": target_tags(p, a, g)
    for p, a, g in [((3, 12), "x86_64", (2, 28)), ((3, 9), "aarch64", (2, 17)),
                    ((3, 11), "x86_64", (2, 36))]})
