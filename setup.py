"""templates/ and static/ sit at the top of the repository (DESIGN.md) and
are installed as portal/templates and portal/static, where create_app()
finds them in a wheel. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, find_packages, setup

ASSETS = ("templates", "static")
packages = find_packages(include=["portal", "portal.*"])
package_dir = {"portal": "portal"}
for top in ASSETS:
    package_dir[f"portal.{top}"] = top
    packages += [f"portal.{top}"] + [f"portal.{top}.{sub}" for sub in find_namespace_packages(where=top)]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "portal": ["translations/*/LC_MESSAGES/*.mo"],
        "portal.migrations": ["script.py.mako"],
        **{p: ["*"] for p in packages if p.split(".")[1:2] and p.split(".")[1] in ASSETS},
    },
)
