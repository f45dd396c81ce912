"""labelaudit: find label errors in classification datasets with confident learning.

The library API mirrors the command line: `find_label_issues`, `get_label_quality_scores`,
`order_label_issues` and the counting functions all take labels (N,) and pred_probs (N, K) arrays.
"""

from labelaudit.core import *  # noqa: F401,F403
from labelaudit.core import __all__ as _core_all

__version__ = "0.1.0"
__all__ = ["__version__", *_core_all]
