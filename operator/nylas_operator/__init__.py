"""nylas-operator: Nylas bulk authentication grants as Kubernetes objects."""

import sys
from importlib.metadata import PackageNotFoundError, version

# kopf imports the `kubernetes` package when it is installed, only to recognise its model objects
# (which this operator never hands it): +9 MB in every process. We need the package only for
# kubeconfigs with an exec plugin; ``login.load_with_kubernetes_client`` lifts this then.
sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]

try:
    __version__ = version("nylas-operator")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
