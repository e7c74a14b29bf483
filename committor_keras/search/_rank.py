"""Ranked candidates: the end of a search run, the completed trials of all searches ordered by the objective."""

import numpy as np
import pandas as pd

from committor_keras._errors import CommittorKerasError
from committor_keras.model import OBJECTIVE
from committor_keras.search._oracle import trial_number


def select_top_k(trials, k):
    """The ``k`` best completed trials of all searches, best first.

    Trials rank by validation KL per shot; ties go to the lower search seed, then the lower trial number, so the
    choice is deterministic. Failed, running and non-finite trials are left out.

    Args:
        trials: the trial table (``RUN/trials.csv``).
        k: how many to keep (fewer when fewer trials completed).

    Returns:
        DataFrame, a copy of the chosen rows.

    Raises:
        CommittorKerasError: no trial completed.
    """
    score = pd.to_numeric(trials[OBJECTIVE], errors="coerce")
    usable = trials[(trials["status"] == "COMPLETED") & np.isfinite(score.to_numpy(dtype=float, na_value=np.nan))]
    if usable.empty:
        raise CommittorKerasError(f"no completed trial with a finite {OBJECTIVE} among {len(trials)} trial(s); "
                                  "see the 'message' column of trials.csv and narrow the search space")
    ranked = usable.assign(_score=score[usable.index], _number=usable["trial_id"].map(trial_number)).sort_values(
        ["_score", "search_seed", "_number"], kind="stable")
    return ranked.drop(columns=["_score", "_number"]).head(k).copy()
