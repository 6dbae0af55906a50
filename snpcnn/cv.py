"""Cross-validated genomic prediction: the CNN and the baselines on the very same folds.

:func:`cross_validate` is the engine behind ``snpcnn fit``.  For every repeat and
fold it fits, on the training part only:

* SNP filters (MAF, call rate, monomorphic), optional SNP preselection by a
  marginal association test, mean imputation and scaling
  (:class:`~snpcnn.preprocess.GenotypePreprocessor`);
* covariates as fixed effects (ordinary least squares on the training part;
  the CNN learns the residual, the baselines fit them jointly);
* per-trait target standardisation;
* early stopping on an inner validation split of the training part.

The test fold is touched once, for the final prediction.  The baselines (GBLUP,
ridge) see the same SNPs and the same imputation.  Several traits are fitted by
one multi-output CNN whose loss ignores missing trait values; each trait is
scored on its own observed test samples.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snpcnn.config import (
    DEFAULT_BASELINE_NAMES,
    BaselineConfig,
    DataConfig,
    ExecutionConfig,
    PreprocessConfig,
    TrainingConfig,
    from_keywords,
)
from snpcnn.datapath import predict_rows
from snpcnn.errors import CLI_MODE, InputError, InputWarning, opt
from snpcnn.folds import (
    MIN_TEST_FOLD,
    NO_GROUP,
    TINY_FOLD_WHY,
    check_fold_frame,
    level_text,
    make_folds,
    read_folds,
)
from snpcnn.genotypes import Genotypes
from snpcnn.metrics import (
    binary_metrics,
    is_collapsed,
    paired_difference,
    regression_metrics,
)
from snpcnn.preprocess import GenotypePreprocessor
from snpcnn.training import TRAIN_DEFAULTS, TrainConfig, device_description, train_cnn

__all__ = [
    "cross_validate",
    "CVResults",
    "CNN_NAME",
    "HYBRID_NAME",
    "MIN_SAMPLES_PER_TRAIT",
    "TRAIN_DEFAULTS",
    "cnn_label",
    "cnn_row",
]

log = logging.getLogger("snpcnn.cv")

#: the row of a CNN trained as a whole (every weight from the data by gradient descent)
CNN_NAME = "CNN"
#: the row of a CNN whose linear SNP path starts at a fitted model (RR-BLUP, or where REML
#: chooses it the CNN-GP) that its convolutions then correct, the default since v2: a hybrid,
#: named as one, so that nobody reads its start's gain as the convolutions' (the start's row
#: and the attribution line say how much each part contributed)
HYBRID_NAME = "CNN hybrid (start + convolutions)"
CNN_NAMES = (CNN_NAME, HYBRID_NAME)
ENSEMBLE_NAME = "CNN+GBLUP"
#: the CNN's linear path alone, as it starts (ridge / RR-BLUP on the CNN's input, by default
#: standardised dosages): reported beside the CNN so that a gain can be attributed
START_NAME = "CNN start (RR-BLUP)"
#: the same for a CNN whose architecture lets REML choose its start per training part between
#: the ridge and the CNN-GP (``[linear] kernel``, the default since v5): the row is whichever
#: start each fold chose (run.json / history ``conv.start_choice`` says which)
KERNEL_START_NAME = "CNN start (RR-BLUP or CNN-GP, by REML)"
#: the start's row of a network fitted on several traits whose architecture offers the
#: multi-trait GBLUP as its start (``[linear] multitrait``, the default since session 34)
MT_START_NAME = "CNN start (RR-BLUP or MT-GBLUP, by likelihood ratio)"
#: the same where the multi-trait CNN-GP is a third start (``[linear] multitrait_cnn_gp``, the
#: default since session 35)
MT_KERNEL_START_NAME = "CNN start (RR-BLUP, MT-GBLUP or MT-CNN-GP, by likelihood)"
#: the same where a trait may be predicted by its own one-trait CNN-GP instead
#: (``[linear] multitrait_trait_choice``, preset snpcnn_default_mt_trait, session 36)
MT_TRAIT_START_NAME = (
    "CNN start (RR-BLUP, MT-GBLUP or MT-CNN-GP by likelihood; a trait's own CNN-GP where its "
    "leave-one-out error is lower)"
)


def cnn_label(model: Any, linear_init: str, head: str) -> str:
    """The row name of the CNN ``model``: :data:`HYBRID_NAME` where its linear SNP path starts
    at a ridge / kernel fit (``linear_init`` "ridge" or "ridge_loo", a regression trait and an
    architecture with a ``[linear]`` path), else :data:`CNN_NAME`.  A callable model is named
    :data:`CNN_NAME` (whether it has a linear path is known only once it is built)."""
    if head != "regression" or linear_init not in ("ridge", "ridge_loo") or callable(model):
        return CNN_NAME
    from snpcnn.models import load_architecture

    return HYBRID_NAME if "linear" in load_architecture(model) else CNN_NAME


def cnn_head(head: str, model: Any, linear_init: str) -> str:
    """The head the CNN trains with for a trait of kind ``head``.  A binary (0/1) trait's
    hybrid (a ``[linear]`` path started at a ridge fit: the default) trains as a linear
    probability model on the 0/1 codes, like the GBLUP baseline: the same ridge start (=
    GBLUP on the 0/1 trait, covariates by GLS), the same start choice and convolutions'
    correction; its predictions are expected 0/1 values (ranked by ROC AUC).  Trained as a
    sigmoid network from zero instead, it had no linear start and could not use covariates
    (session 32: :mod:`benchmarks.bench_binary`).  Any other model keeps ``head``."""
    if head == "binary" and cnn_label(model, linear_init, "regression") == HYBRID_NAME:
        return "regression"
    return head


def cnn_row(models) -> str | None:
    """Which of the CNN's row names ``models`` (names, or a mapping keyed by them) holds."""
    return next((m for m in CNN_NAMES if m in models), None)


def start_label(model: Any, n_traits: int = 1, conv_folds: int = 2) -> str:
    """The name of the start's row for the CNN architecture ``model`` fitted on ``n_traits``
    traits at once; with ``conv_folds`` below 2 no start is chosen (RR-BLUP)."""
    from snpcnn.models import load_architecture

    if callable(model) or conv_folds < 2:
        return START_NAME
    from snpcnn.models.spec import kernel_starts

    linear = load_architecture(model).get("linear", {})
    if n_traits >= 2 and linear.get("multitrait"):
        if linear.get("multitrait_trait_choice"):
            return MT_TRAIT_START_NAME
        return MT_KERNEL_START_NAME if linear.get("multitrait_cnn_gp") else MT_START_NAME
    return start_name_for(kernel_starts(linear))


def start_name_for(kinds: Sequence[str]) -> str:
    """The start row's name where REML (and, for the LASSO, inner CV) may choose among RR-BLUP
    and the alternative starts
    ``kinds`` (``[linear] kernel``; :data:`snpcnn.training.START_LABELS` keys)."""
    from snpcnn.training import START_LABELS

    kinds = tuple(kinds)
    if not kinds:
        return START_NAME
    if kinds == ("cnn_gp",):
        return KERNEL_START_NAME
    labels = ["RR-BLUP", *(START_LABELS[k] for k in kinds)]
    how = "REML or inner CV" if "lasso" in kinds else "REML"
    return f"CNN start ({', '.join(labels[:-1])} or {labels[-1]}, by {how})"


def is_start_row(name: str) -> bool:
    """True for the row of a CNN's start (:func:`start_label`)."""
    return name.startswith("CNN start (")


#: with covariates: the fixed effects alone (intercept + covariates by least squares on the
#: training part), scored beside the models so that a breeder sees what the covariates
#: explain; its predictions are what every model's genomic accuracy is adjusted by
FIXED_NAME = "Covariates only"
#: Pearson r between the covariate-adjusted phenotype and the covariate-adjusted prediction
#: (both minus the "Covariates only" prediction of the fold): the accuracy of the genomic
#: part apart from what the fixed effects explain (docs/outputs.md)
GENOMIC_METRIC = "genomic_pearson_r"
#: multi-trait (multi-environment) GBLUP: fitted jointly on all traits (snpcnn.multitrait)
MT_BASELINE = "mtgblup"
MT_LABEL = "MT-GBLUP"
#: cv1: predict new lines (a test line is hidden in every trait); cv2: predict lines in the
#: environments (traits) where they were not observed, from their other environments
CV_SCHEMES = ("cv1", "cv2")
MIN_SAMPLES_PER_TRAIT = 10
#: fewest samples a CV training part may hold
MIN_TRAIN_PART = 5
# Training defaults of the CNN: the one place is snpcnn.training.TRAIN_DEFAULTS (imported
# above and re-exported here, where ``snpcnn fit``, the estimators and benchmarks read them).
# Materialise a fold's encoded training matrix only below this size (bytes).
MAX_DENSE_BYTES = 2 * 1024**3


@dataclass
class Targets:
    """Aligned phenotypes: row ``i`` is genotype row ``geno_index[i]``."""

    sample_ids: np.ndarray
    geno_index: np.ndarray
    y: np.ndarray  # (n, T) float64, NaN = missing
    traits: list[str]
    phenotypes: Any  # the Phenotypes the covariates are encoded from, per fold
    use_covariates: bool
    covariate_names: list[str]
    groups: np.ndarray | None
    head: str  # "regression" or "binary"
    binary_levels: dict[str, list[Any]]
    report: dict[str, Any]
    # how to avoid a test fold of one class with these folds (set with the folds; the
    # per-fold note named --stratify where the folds were a table that refuses it)
    one_class_fix: str = ""


def _conv_records(histories: list, key: str) -> list:
    """The fits' ``conv[key]`` records, where a fit has one."""
    return [h["conv"][key] for h in histories if (h.get("conv") or {}).get(key) is not None]


@dataclass
class CVResults:
    """Everything a cross-validation run produced; the CLI only renders it.

    Attributes
    ----------
    metrics : DataFrame
        One row per repeat, fold, model, trait and metric: columns ``repeat, fold,
        model, trait, metric, value, status, n_train, n_test``.  ``status`` is "ok"
        or "collapsed" (constant predictions; correlations undefined).
    predictions : DataFrame
        Out-of-fold predictions: ``sample_id, repeat, fold, trait, model, observed,
        predicted``.
    histories : list of dict
        Learning curves of the CNN per repeat and fold.
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    histories: list[dict[str, Any]]
    folds: pd.DataFrame
    traits: list[str]
    models: list[str]
    head: str
    config: dict[str, Any]
    data_report: dict[str, Any]
    timings: dict[str, float]
    device: str
    final_bundle: Any = None
    notes: list[str] = field(default_factory=list)

    def conv_kept(self) -> tuple[int, int] | None:
        """(fits whose convolutions' correction was kept, fits), over folds and seeds.

        Only for a CNN whose linear path started at a ridge fit (``linear_init`` "ridge" or
        "ridge_loo" with a wide & deep model; None otherwise): in a fit whose correction was
        rejected (best epoch 0) the CNN predicts exactly its ridge (RR-BLUP) start.
        """
        epochs = [e for h in self.histories if h.get("ridge_start") for e in h["best_epochs"]]
        if not epochs:
            return None
        return sum(e > 0 for e in epochs), len(epochs)

    def _start_choices(self) -> list[tuple[str | None, dict]]:
        """(the start each fit kept, its ``start_choice`` record), over the fits that made a
        start choice."""
        return [
            (h["conv"].get("start"), h["conv"]["start_choice"])
            for h in self.histories
            if (h.get("conv") or {}).get("start_choice") is not None
        ]

    def start_counts(self) -> dict[str, int] | None:
        """How many fits started at each start (``{"RR-BLUP": k, "CNN-GP": j}``), for a CNN
        whose architecture lets REML choose (``[linear] kernel``); None otherwise."""
        from snpcnn.training import START_LABELS

        choices = self._start_choices()
        if not choices:
            return None
        kinds = [k for k, _ in choices]
        offered = {"ridge", "cnn_gp"}  # always listed (v5's record); others where offered
        for _, ch in choices:
            offered.update(ch.get("candidates") or ())
        if "mtgblup" in offered:  # several traits: RR-BLUP, MT-GBLUP (or MT-CNN-GP) only
            offered = {"ridge", "mtgblup"} | ({"mt_cnn_gp"} & offered)
        return {
            label: sum(k == kind for k in kinds)
            for kind, label in START_LABELS.items()
            if kind in offered
        }

    def lasso_dominance_count(self) -> int | None:
        """Of the fits that started at the LASSO, how many took each SNP's heterozygote
        indicator too (``[linear] lasso_dominance``, kept where inner CV favoured it); None
        where no fit fitted the LASSO with the indicators (an architecture without
        ``lasso_dominance``, inbred lines with no heterozygote, streamed genotypes)."""
        choices = self._start_choices()

        def used(ch: dict) -> bool | None:
            if "lasso_dominance_used" in ch:
                return bool(ch["lasso_dominance_used"])
            if ch.get("lasso_dominance_columns", 0) > 0:  # session 50's first v17: always
                return True
            return None

        flags = [(kind, used(ch)) for kind, ch in choices]
        if all(u is None for _, u in flags):
            return None
        return sum(kind == "lasso" and bool(u) for kind, u in flags)

    def screen_orders(self) -> dict | None:
        """Along which SNP order the convolutions' windows ran (``[screen] order`` other
        than "file", or far pairs screened on a map with ``[screen] map_all_pairs``):
        ``{"fits", "ld", "file", "file_adjacent_r2", "random_r2"}`` over the fits that
        record it (r^2: medians over the fits that seriated), and ``far_fits`` (fits where a
        window held a significant pair beyond the screen's reach), ``far_windows`` (the
        windows that held one, summed over the cross-fitted networks), ``far_on_map`` (of
        ``far_fits``, those on a map) and ``far_reach`` (the smallest such reach); None if
        none."""
        recs = _conv_records(self.histories, "screen_order")
        if not recs:
            return None
        ld = [r for r in recs if r.get("used") == "ld"]
        out: dict = {"fits": len(recs), "ld": len(ld), "file": len(recs) - len(ld)}
        # fits whose file order carries no LD but were not seriated (too many SNPs): their
        # windows grouped unlinked SNPs; the reason, once
        blind = [
            r for r in recs if r.get("used") == "file" and "carries no LD" in str(r.get("why", ""))
        ]
        out["unseriated"] = len(blind)
        out["unseriated_why"] = blind[0]["why"] if blind else None
        for key in ("file_adjacent_r2", "random_r2"):
            vals = [r[key] for r in ld if r.get(key) is not None]
            out[key] = float(np.median(vals)) if vals else None
        # [screen] all_pairs: fits where a pair beyond the screen's reach (on a map, or in
        # the LD order) was significant and took a window in a cross-fitted network
        far = [r for r in recs if sum(r.get("far_windows") or ()) > 0]
        out["far_fits"] = len(far)
        out["far_windows"] = int(sum(sum(r["far_windows"]) for r in far))
        out["far_on_map"] = sum("map_reach" in r for r in far)
        reach = [r.get("map_reach", r.get("ld_reach")) for r in far]
        out["far_reach"] = min((int(v) for v in reach if v is not None), default=None)
        return out

    def backfits(self) -> dict[str, int] | None:
        """For an architecture with ``[linear] backfit``: ``{"fits", "refitted"}``: in how
        many fits the convolutions were kept on a ridge start (or, with ``backfit_lasso``, a
        LASSO start; ``"starts"`` then names them) and the start was refitted around them,
        and in how many the refitted start was kept; None where no fit records it."""
        # a refit skipped (streamed genotypes, backfit_lasso) was never tried: not counted
        recs = [r for r in _conv_records(self.histories, "backfit") if "skipped" not in r]
        if not recs:
            return None
        out = {"fits": len(recs), "refitted": sum(bool(r.get("adopted")) for r in recs)}
        kinds = {r.get("start", "ridge") for r in recs}
        if kinds != {"ridge"}:  # [linear] backfit_lasso: which starts these fits had
            from snpcnn.training import START_LABELS

            out["starts"] = [START_LABELS[k] for k in ("ridge", "lasso") if k in kinds]
        return out

    def triple_stages(self) -> dict[str, int] | None:
        """For an architecture with ``[triple_stage]`` (the v10 candidate): ``{"fits", "ran",
        "kept"}``: in how many fits a SNP triple was significant in the first stage's
        out-of-fold residuals (the second stage over triples was trained) and in how many
        its correction was kept; None where no fit records it."""
        recs = _conv_records(self.histories, "triple_stage")
        if not recs:
            return None
        out = {
            "fits": len(recs),
            "ran": sum(bool(r.get("ran")) for r in recs),
            "kept": sum(bool(r.get("kept")) for r in recs),
        }
        # fits where it could not run at all: streamed genotypes (no triple screen there)
        # or several traits
        whys = sorted({r["why"] for r in recs if r.get("why")})
        if whys:
            out["not_offered"] = {w: sum(r.get("why") == w for r in recs) for w in whys}
        return out

    def trait_own_starts(self) -> dict | None:
        """Where the multi-trait CNN-GP was the start and ``[linear] multitrait_trait_choice``
        let each trait's own one-trait CNN-GP predict it: ``{"fits": k, "own": {trait:
        fits}}`` (in how many of the k fits each trait was predicted by its own fit, for its
        lower exact leave-one-out error); None where no fit records the choice."""
        recs = [
            h["conv"]["start_choice"]["trait_starts"]
            for h in self.histories
            if ((h.get("conv") or {}).get("start_choice") or {}).get("trait_starts")
        ]
        if not recs:
            return None
        own = {t: sum(r[j] == "cnn_gp" for r in recs) for j, t in enumerate(self.traits)}
        return {"fits": len(recs), "own": own}

    def start_skips(self) -> dict[str, int]:
        """Fits where REML made no start choice (``start_choice.skipped``: several traits,
        streamed genotypes, too many or too few rows), by reason; those started at the
        ridge."""
        out: dict[str, int] = {}
        for h in self.histories:
            why = ((h.get("conv") or {}).get("start_choice") or {}).get("skipped")
            if why:
                out[why] = out.get(why, 0) + 1
        return out

    def starts_not_offered(self) -> dict[str, int]:
        """Fits whose start choice could not offer a configured start (``start_choice.
        not_offered``: on streamed genotypes the LASSO above ``lasso_max_streamed``, and the
        CNN-GP above ``kernel_max_streamed`` or where the input is not one-channel dosages),
        by start label."""
        from snpcnn.training import START_LABELS

        out: dict[str, int] = {}
        for h in self.histories:
            for kind in ((h.get("conv") or {}).get("start_choice") or {}).get("not_offered", ()):
                label = START_LABELS.get(kind, kind)
                out[label] = out.get(label, 0) + 1
        return out

    @property
    def inner_validation(self) -> pd.DataFrame:
        """Pearson r of the CNN on the inner validation split of each training part.

        One row per repeat, fold, seed and trait.  This score never sees a test fold,
        so it is the one to select hyperparameters with (nested model selection).
        """
        rows = []
        for h in self.histories:
            for s, per_trait in enumerate(h.get("inner_val_r", [])):
                for j, r in enumerate(per_trait):
                    rows.append(
                        {
                            "repeat": h["repeat"],
                            "fold": h["fold"],
                            "seed": s,
                            "trait": self.traits[j],
                            "inner_val_pearson_r": r,
                        }
                    )
        return pd.DataFrame(rows)

    @property
    def headline_metric(self) -> str:
        return "pearson_r" if self.head == "regression" else "auc"

    def summary(self) -> pd.DataFrame:
        """Mean, sd and count over folds (and repeats) per model, trait and metric.

        ``n_collapsed`` counts folds whose predictions were constant; their
        correlations are excluded from the mean (see :meth:`paired` for how they
        count in the comparison).
        """
        m = self.metrics
        # an undefined fold (its observed values all equal) scores no model: left out of
        # every mean, its accuracy too (which has a value there: the share of one class)
        m = m.assign(value=m["value"].where(m["status"].ne("undefined")))
        g = m.groupby(["trait", "model", "metric"], sort=False)
        out = g["value"].agg(["mean", "std", "count"]).reset_index()
        coll = m.assign(c=m["status"].eq("collapsed")).groupby(
            ["trait", "model", "metric"], sort=False
        )["c"]
        out["n_collapsed"] = coll.sum().to_numpy().astype(int)
        out["n_folds"] = g.size().to_numpy()
        return out

    def paired(self, reference: str = "GBLUP", metric: str | None = None) -> pd.DataFrame:
        """Paired fold-by-fold comparison of every model with ``reference``.

        For each (repeat, fold), the difference model - reference of the headline
        metric.  A fold where the model collapsed counts as a loss, and its metric
        is taken as 0 (no ranking information; AUC 0.5) or the reference's, whichever
        is lower, in the mean difference (never a gain).
        """
        metric = metric or self.headline_metric
        m = self.metrics[self.metrics["metric"] == metric]
        rows = []
        for trait in self.traits:
            mt = m[m["trait"] == trait]
            ref = mt[mt["model"] == reference].set_index(["repeat", "fold"])
            if ref.empty:
                continue
            for model in self.models:
                if model == reference:
                    continue
                cur = mt[mt["model"] == model].set_index(["repeat", "fold"])
                if cur.empty:
                    continue
                joined = cur.reset_index().merge(
                    ref.reset_index(), on=["repeat", "fold"], suffixes=("", "_ref")
                )
                rows.append(
                    {
                        "trait": trait,
                        "model": model,
                        "reference": reference,
                        "metric": metric,
                        **paired_difference(joined),
                    }
                )
        return pd.DataFrame(rows)


# --------------------------------------------------------------------- inputs
def _load_inputs(
    genotypes, phenotypes, covariates, covariates_path, id_column, traits=None, groups=None
):
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import Phenotypes, align, read_phenotypes

    if not isinstance(genotypes, Genotypes):
        if not isinstance(genotypes, (str, os.PathLike)):
            raise InputError(
                f"genotypes must be a path or a snpcnn.genotypes.Genotypes, got "
                f"{type(genotypes).__name__}; wrap a dosage matrix as Genotypes(dosages, "
                "sample_ids)"
            )
        genotypes = read_genotypes(genotypes, verify=True)
    if not isinstance(phenotypes, Phenotypes):
        if not isinstance(phenotypes, (str, os.PathLike)):
            raise InputError(
                f"phenotypes must be a path or a snpcnn.io.phenotypes.Phenotypes, got "
                f"{type(phenotypes).__name__}; write the table to a CSV, or use "
                "read_phenotypes(path)"
            )
        phenotypes = read_phenotypes(
            phenotypes,
            id_column=id_column,
            traits=list(traits) if traits else None,
            covariates=list(covariates or []) or None,
            covariates_path=covariates_path,
            labels=[groups] if groups else None,
        )
    else:
        phenotypes = _read_options_on_a_table(phenotypes, covariates, covariates_path, id_column)
    return genotypes, phenotypes, align


def _read_options_on_a_table(phenotypes, covariates, covariates_path, id_column):
    """``phenotypes`` already read (a Phenotypes): the reading options are checked against it,
    not ignored.  Before session 50 ``covariates=['zz']`` with a table read without 'zz' ran
    with a "Covariates only" model of no covariate, and ``covariates_path`` and
    ``id_column`` were dropped without a word (a checking helper)."""
    import dataclasses

    given = [name for name, v in (("covariates_path", covariates_path),
                                  ("id_column", id_column)) if v is not None]  # fmt: skip
    if given:
        raise InputError(
            f"{' and '.join(given)} {'are options' if len(given) > 1 else 'is an option'} of "
            "reading the phenotype file, and phenotypes is already read (a Phenotypes): pass "
            f"{' and '.join(given)} to read_phenotypes(...), or give the file's path instead"
        )
    named = [covariates] if isinstance(covariates, str) else list(dict.fromkeys(covariates or []))
    if not named:
        return phenotypes
    absent = [c for c in named if c not in phenotypes.covariates]
    if absent:
        have = ", ".join(phenotypes.covariates) or "none"
        raise InputError(
            f"covariates {absent}: the Phenotypes given was read without "
            f"{'it' if len(absent) == 1 else 'them'} (its covariates: {have}); read it with "
            f"read_phenotypes(path, covariates={named!r}), or give the file's path instead"
        )
    if len(named) < len(phenotypes.covariates):  # the ones named, as from a path
        phenotypes = dataclasses.replace(
            phenotypes,
            covariates=named,
            categorical=[c for c in phenotypes.categorical if c in named],
        )
    return phenotypes


def _binary_levels(values: np.ndarray) -> list[Any] | None:
    v = values[~np.isnan(values)]
    levels = np.unique(v)
    if len(levels) == 2:
        return [float(x) for x in levels]
    return None


def samples_without_calls(call_rate, al, keep: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Among the aligned samples ``keep`` (those with a trait value), those without a
    genotype call at any SNP (``call_rate``: per genotype row, or None), and the note that
    says they were left out (None where there are none).  fit, tune and the benchmark leave
    them out alike: a prediction for such a sample holds no genotype information."""
    if call_rate is None:
        return np.zeros(len(keep), dtype=bool), None
    no_call = np.asarray(keep) & (np.asarray(call_rate)[np.asarray(al.geno_index)] == 0)
    if not no_call.any():
        return no_call, None
    first = np.asarray(al.sample_ids).astype(str)[no_call][0]
    return no_call, (
        f"{int(no_call.sum())} phenotyped sample(s) have no genotype call at any SNP (e.g. "
        f"'{first}') and were left out: a prediction for them would hold no genotype "
        "information (snpcnn predict leaves them empty)"
    )


def _copied_traits(y: np.ndarray, traits: list) -> str | None:
    """A note where two traits fitted together are the same values up to a linear change of
    scale (|r| >= 0.9999 on the samples with both): a joint fit then has a genetic
    correlation of 1, and the multi-trait GBLUP's likelihood has no interior maximum ("did
    not converge ... an environment observed on few lines" pointed away from the cause: a
    checking helper, session 44)."""
    pairs = []
    for i in range(len(traits)):
        for j in range(i + 1, len(traits)):
            both = ~np.isnan(y[:, i]) & ~np.isnan(y[:, j])
            smaller = min(int((~np.isnan(y[:, i])).sum()), int((~np.isnan(y[:, j])).sum()))
            # a few shared lines agree by chance (3 integer scores did: a reviewer)
            if both.sum() < max(10, smaller // 2):
                continue
            a, b = y[both, i], y[both, j]
            if np.std(a) == 0 or np.std(b) == 0:
                continue
            if abs(np.corrcoef(a, b)[0, 1]) >= 0.9999:
                pairs.append(f"'{traits[i]}' and '{traits[j]}'")
    if not pairs:
        return None
    return (
        f"traits {'; '.join(pairs[:3])}{' (and more)' if len(pairs) > 3 else ''} are the same "
        "values up to scale (|Pearson r| >= 0.9999 on the samples with both): fitted together "
        "their predictions coincide and the multi-trait models' genetic correlation is 1; "
        "is one column a copy of the other? Fit one of them"
    )


def check_trait_values(col, trait: str, phenotypes, sample_ids, drop: str = "") -> None:
    """One-line errors for a trait column (NaN = missing, rows = ``sample_ids``) that cannot
    be fitted: fewer than :data:`MIN_SAMPLES_PER_TRAIT` values, zero variance, or a scale
    floating point cannot analyse; ``phenotypes`` (a path or a table with a ``source``)
    names the file, ``drop`` is appended to the advice.  Shared by cross-validation and
    tune (which had weaker checks of its own until session 49)."""
    col = np.asarray(col, dtype=np.float64)
    n_ok = int(np.sum(~np.isnan(col)))
    origin = (
        phenotypes
        if isinstance(phenotypes, (str, os.PathLike))
        else getattr(phenotypes, "source", None)
    )
    src = f"{origin}: " if origin else ""
    if n_ok < MIN_SAMPLES_PER_TRAIT:
        raise InputError(
            f"{src}trait '{trait}' has only {n_ok} genotyped samples with a value; at least "
            f"{MIN_SAMPLES_PER_TRAIT} are needed{drop}"
        )
    if np.nanmax(col) == np.nanmin(col):
        raise InputError(
            f"{src}trait '{trait}' has zero variance (every value is "
            f"{level_text(np.nanmax(col))}): there is nothing to predict; check the column{drop}"
        )
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sd = float(np.nanstd(col))
    if not (np.isfinite(sd) and 1e-100 < sd < 1e100):
        big = int(np.nanargmax(np.abs(col)))
        raise InputError(
            f"{src}trait '{trait}' has values on a scale that floating point cannot analyse "
            f"(standard deviation {sd:.3g}; largest |value| {col[big]:.3g} for sample "
            f"'{sample_ids[big]}'); rescale the trait, e.g. to its usual units"
        )


def _targets_from_alignment(al, phenotypes, traits, covariates, groups, call_rate=None) -> Targets:
    """The samples and trait values the cross-validation uses: those with a value of some
    trait and, where ``call_rate`` (per genotype row) is given, a genotype call at some
    SNP.  A sample with no call carries no genotype information: cross-validation scored
    the CNN-GP start's prediction for one at its test fold's 93rd percentile, while
    ``snpcnn predict`` leaves such a sample empty (a checking helper, session 42)."""
    y = np.asarray(al.y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    traits = list(traits)
    keep = ~np.all(np.isnan(y), axis=1)
    report = dict(al.report)
    no_call, note = samples_without_calls(call_rate, al, keep)
    if note:
        report["no_calls"] = note
    keep &= ~no_call
    sample_ids = np.asarray(al.sample_ids).astype(str)[keep]
    geno_index = np.asarray(al.geno_index)[keep]
    y = y[keep]
    for j, t in enumerate(traits):
        drop = ""
        if len(traits) > 1:
            drop = f"; leave it out (drop --trait {t})" if CLI_MODE.get() else "; leave it out"
        check_trait_values(y[:, j], t, phenotypes, sample_ids, drop)
    copies = _copied_traits(y, traits)
    if copies:
        report["copied_traits"] = copies
    levels = {t: _binary_levels(y[:, j]) for j, t in enumerate(traits)}
    head = "regression"
    binary_levels: dict[str, list[Any]] = {}
    if any(levels[t] is not None for t in traits):
        if len(traits) > 1:
            b = [t for t in traits if levels[t] is not None]
            raise InputError(
                f"trait '{b[0]}' is binary (two values); fit binary traits one at a time "
                + ("(one --trait per run)" if CLI_MODE.get() else "(one trait per call)")
            )
        head = "binary"
        lv = levels[traits[0]]
        binary_levels[traits[0]] = lv
        y = np.where(np.isnan(y), np.nan, (y == lv[1]).astype(np.float64))
    cov_names: list[str] = []
    if covariates:
        # validates every value now; the encoding itself is refitted inside each fold
        _, cov_names = phenotypes.covariate_matrix(sample_ids, fit_levels=sample_ids)
    grp = None
    if groups:
        table = phenotypes.table
        if groups not in table.columns:
            raise InputError(
                f"{opt('groups')} column '{groups}' is not in {phenotypes.source}; columns are: "
                + ", ".join(map(str, table.columns[:20]))
            )
        raw = table.loc[sample_ids, groups]
        # labels as text, but '2.0' (a whole number written by a float column, or one
        # file's spelling) is the group '2': they were two families
        grp = raw.astype(str).str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True).to_numpy()
        n_groups = len(set(grp[~raw.isna().to_numpy()]))
        if n_groups > 0.5 * len(sample_ids):
            report["groups_many"] = (
                f"{opt('groups')} '{groups}' has {n_groups:,} different values for "
                f"{len(sample_ids):,} samples: most groups hold one sample, so group folds "
                "are nearly random folds; is it the right column (a family, line or site id)?"
            )
        missing = raw.isna().to_numpy()
        if missing.all():
            # every sample a group of its own: random folds under the name of group folds,
            # with a note only (a checking helper, session 45)
            raise InputError(
                f"{opt('groups')} column '{groups}' has no value for any of the "
                f"{len(sample_ids):,} samples used (e.g. '{sample_ids[0]}'); fill in the "
                f"groups, or leave out {opt('groups')} for random folds"
            )
        if missing.any():
            # an unknown family is no family: each such sample is a group of its own (pooled
            # as one group 'None' they were always held out together)
            grp = np.where(missing, np.char.add(NO_GROUP, sample_ids.astype(str)), grp)
            report["groups_missing"] = (
                f"{opt('groups')} '{groups}': {int(missing.sum())} sample(s) have no value (e.g. "
                f"'{sample_ids[missing][0]}'); each is a group of its own"
            )
    return Targets(
        sample_ids=sample_ids,
        geno_index=geno_index,
        y=y,
        traits=traits,
        phenotypes=phenotypes,
        use_covariates=bool(covariates),
        covariate_names=cov_names,
        groups=grp,
        head=head,
        binary_levels=binary_levels,
        report=report,
    )


# ------------------------------------------------------------ fixed effects
def _ols(c: np.ndarray | None, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of y on [1, C] (intercept first)."""
    design = np.ones((len(y), 1)) if c is None else np.column_stack([np.ones(len(y)), c])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef


def _gls(x: np.ndarray, y: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, float]:
    """Fixed effects of ``[1, C]`` (intercept first) by GLS in the REML ridge (GBLUP) model
    on markers ``x``, and that model's penalty; dropped covariate columns get 0."""
    from snpcnn.baselines import RidgeRegression
    from snpcnn.datapath import FlatRows, start_is_large

    if start_is_large(x):  # as the start itself: the large-n solver (CG)
        ridge = RidgeRegression(penalty="reml", solver="iterative").fit(FlatRows(x), y, c)
    elif isinstance(x, np.ndarray):
        ridge = RidgeRegression(penalty="reml").fit(x.reshape(len(x), -1), y, c)
    else:  # streamed rows (snpcnn.datapath): the same fit from column-block passes
        from snpcnn.datapath import ridge_fit

        ridge = ridge_fit(x, y, c, penalty="reml")
    coef = np.zeros(1 + c.shape[1])
    coef[0] = ridge.beta_[0]
    coef[1 + np.asarray(ridge._fe.keep, dtype=int)] = ridge.beta_[1:]
    return coef, float(ridge.alpha_)


def _fixed(c: np.ndarray | None, coef: np.ndarray, n: int) -> np.ndarray:
    design = np.ones((n, 1)) if c is None else np.column_stack([np.ones(n), c])
    return design @ coef


@dataclass
class TargetTransform:
    """Per-trait fixed effects (intercept + covariates) and residual scaling, fitted on training."""

    coef: list[np.ndarray]
    sd: np.ndarray
    head: str
    # with ``x`` given to fit (a GBLUP-equivalent ridge start and covariates): the REML
    # ridge penalty of each trait's joint fit, which the start reuses (None otherwise)
    alphas: list[float] | None = None

    @classmethod
    def fit(
        cls, y: np.ndarray, c: np.ndarray | None, head: str, x: np.ndarray | None = None
    ) -> TargetTransform:
        """Fit the fixed effects of each trait on the training rows.

        By least squares on ``[1, C]``; with ``x`` (the encoded training genotypes) and
        covariates, by generalised least squares in the REML mixed model ``y = [1, C] b +
        x beta + e`` (a REML ridge, i.e. GBLUP), whose penalty is kept in ``alphas``: a
        ridge start fitted on the transformed target with that penalty then reproduces
        GBLUP with covariates exactly (same ``b``, same marker effects).
        """
        coefs, sds, alphas = [], [], []
        gls = x is not None and c is not None and head == "regression"
        for j in range(y.shape[1]):
            ok = ~np.isnan(y[:, j])
            if head == "binary":
                coefs.append(np.zeros(1 if c is None else 1 + c.shape[1]))
                sds.append(1.0)
                continue
            cj = None if c is None else c[ok]
            if gls:
                coef, alpha = _gls(x[ok], y[ok, j], cj)
                alphas.append(alpha)
            else:
                coef = _ols(cj, y[ok, j])
            resid = y[ok, j] - _fixed(cj, coef, int(ok.sum()))
            sd = float(np.std(resid))
            coefs.append(coef)
            sds.append(sd if sd > 0 else 1.0)
        return cls(coefs, np.asarray(sds), head, alphas if gls else None)

    def forward(self, y: np.ndarray, c: np.ndarray | None) -> np.ndarray:
        if self.head == "binary":
            return y.copy()
        out = np.empty_like(y)
        for j in range(y.shape[1]):
            out[:, j] = (y[:, j] - _fixed(c, self.coef[j], len(y))) / self.sd[j]
        return out

    def inverse(self, z: np.ndarray, c: np.ndarray | None) -> np.ndarray:
        if self.head == "binary":
            return z.copy()
        out = np.empty_like(z, dtype=np.float64)
        for j in range(z.shape[1]):
            out[:, j] = z[:, j] * self.sd[j] + _fixed(c, self.coef[j], len(z))
        return out


# -------------------------------------------------------------------- engine
#: samples with calls at fewer than this fraction of the SNPs are named in the run notes
LOW_SAMPLE_CALL_RATE = 0.5
#: a trait value this many robust SDs from the median is named in the run notes
OUTLIER_ROBUST_SDS = 50.0
#: values that are often missing-value codes; named where they lie far from the rest
MISSING_CODES = (-9.0, -99.0, -999.0, -9999.0, 999.0, 9999.0)


def trait_outlier_notes(targets: Targets) -> list[str]:
    """Notes on extreme values of quantitative traits: a missing-value code read as a value
    (-9, 999, ... more than 5 robust SDs from the median), or any value more than
    :data:`OUTLIER_ROBUST_SDS` robust SDs from it (a typo).  One such value dominates every
    model's fit and can decide a fold's correlation; nothing is changed, the user is told."""
    from snpcnn.metrics import robust_sd

    if targets.head != "regression":
        return []
    notes = []
    for j, t in enumerate(targets.traits):
        y = targets.y[:, j]
        ok = np.flatnonzero(np.isfinite(y))
        if len(ok) < 10:
            continue
        # the spread of the values that are no code: a 1/2 trait with -9s had its SD (the
        # fallback where most values are equal) inflated by the -9s themselves, which then
        # lay 4.8 SDs out and were not named (a checking helper, session 46)
        plain = y[ok][~np.isin(y[ok], MISSING_CODES)]
        base = plain if len(plain) >= 10 else y[ok]
        med, rsd = float(np.median(base)), robust_sd(base)
        if rsd <= 0:  # most values equal (a 1/2 trait): a code is far if it is not the median
            far = y[ok] != med
            z = None
        else:
            z = np.abs(y[ok] - med) / rsd
            far = z > 5
        codes = ok[np.isin(y[ok], MISSING_CODES) & far]
        if len(codes):
            i = codes[0]
            vals, counts = np.unique(y[codes], return_counts=True)
            which = ", ".join(f"{v:g} in {c}" for v, c in zip(vals, counts))
            rest = np.unique(np.delete(y[ok], np.searchsorted(ok, codes)))
            binary = (
                f"; without them '{t}' has two values ({rest[0]:g} and {rest[1]:g}) and would "
                "be fitted as a binary trait (ROC AUC), read so it is quantitative (Pearson r)"
                if len(rest) == 2
                else ""
            )
            notes.append(
                f"trait '{t}': {len(codes)} sample(s) have a value that looks like a missing-"
                f"value code ({which}; e.g. sample '{targets.sample_ids[i]}'), far from the "
                f"others: if it is one, leave the cell empty or write NA{binary}"
            )
            continue
        if z is None:
            continue
        worst = int(np.argmax(z))
        if z[worst] > OUTLIER_ROBUST_SDS:
            i = ok[worst]
            notes.append(
                f"trait '{t}': sample '{targets.sample_ids[i]}' has the value {y[i]:g}, "
                f"{z[worst]:.0f} robust SDs from the median ({med:g}); check it: one such value "
                "dominates the fits and can decide a fold's correlation"
            )
    return notes


def covariate_code_notes(targets: Targets) -> list[str]:
    """Notes on numeric covariates holding a missing-value code (-9, 999, ...) far from their
    other values: an age or a PC of -9 was used as a value without a word (a checking helper,
    session 46).  Nothing is changed; the user is told."""
    from snpcnn.metrics import robust_sd

    ph = targets.phenotypes
    if not targets.use_covariates or ph is None:
        return []
    notes = []
    cat = set(getattr(ph, "categorical", ()) or ())
    for name in targets.covariate_names:
        if name in cat or name not in ph.table.columns:
            continue
        x = pd.to_numeric(ph.table[name].reindex(targets.sample_ids), errors="coerce")
        x = x.to_numpy(dtype=np.float64)
        x = x[np.isfinite(x)]
        plain = x[~np.isin(x, MISSING_CODES)]
        if len(plain) < 10 or len(plain) == len(x):
            continue
        med, rsd = float(np.median(plain)), robust_sd(plain)
        codes = x[np.isin(x, MISSING_CODES) & (np.abs(x - med) > 5 * rsd)]
        if len(codes):
            vals, counts = np.unique(codes, return_counts=True)
            which = ", ".join(f"{v:g} in {c}" for v, c in zip(vals, counts))
            notes.append(
                f"covariate '{name}': {len(codes)} sample(s) have a value that looks like a "
                f"missing-value code ({which}), far from the others (median {med:g}); it was "
                "used as a value: if it is one, leave the cell empty or write NA"
            )
    return notes


#: genomic r is undefined where the covariates leave less than this fraction of the trait's
#: SD (the rest is rounding noise)
GENOMIC_RTOL = 1e-6


def genomic_status(status: str, value: float) -> str:
    """A genomic r's status: the fold's, or "undefined" where the fold is ok but the value is
    not (the rest after the covariates, or the prediction's, is flat): never a bare NaN."""
    return status if status != "ok" or np.isfinite(value) else "undefined"


def genomic_r(observed, predicted, fixed) -> float:
    """Pearson r of ``observed - fixed`` with ``predicted - fixed`` (NaN when either is flat).

    ``fixed`` is the covariates-only prediction of the same samples, fitted on the training
    part: the accuracy of what a model adds to the fixed effects (its genomic part).
    """
    observed = np.asarray(observed, np.float64)
    a = observed - fixed
    b = np.asarray(predicted, np.float64) - fixed
    # where the covariates explain the trait completely, what is left is rounding noise
    if len(a) < 2 or is_collapsed(b, a) or np.std(a) <= GENOMIC_RTOL * np.std(observed):
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _score(head: str, y_true, y_pred):
    return (
        regression_metrics(y_true, y_pred)
        if head == "regression"
        else binary_metrics(y_true, y_pred)
    )


def _fold_seed(seed: int, repeat: int, fold: int) -> int:
    return int(np.random.SeedSequence([seed, repeat, fold]).generate_state(1)[0] % (2**31 - 1))


def _uncrossfitted_note(training) -> list[str]:
    """Where ``conv_folds`` is 0 but the architecture's start choice or SNP screen runs
    only on cross-fitted networks: say, once per fit, what the model trains instead (the
    windows stayed evenly spaced, without a word)."""
    import warnings

    from snpcnn.models import load_architecture
    from snpcnn.models.spec import kernel_starts

    if training.conv_folds != 0 or training.linear_init != "ridge_loo":
        return []
    try:
        spec = load_architecture(training.model)
    except (InputError, TypeError):
        return []
    linear = spec.get("linear") or {}
    lost = []
    if spec.get("screen"):
        lost.append("its SNP screen (the windows stay evenly spaced over the SNPs)")
    if kernel_starts(linear) or linear.get("multitrait"):
        lost.append("its start choice (the start is RR-BLUP)")
    if spec.get("triple_stage"):
        lost.append("its second stage over SNP triples")
    if not lost:
        return []
    note = (
        f"{opt('conv_folds', 0)}: "
        + (", ".join(lost[:-1]) + " and " if len(lost) > 1 else "")
        + f"{lost[-1]} run only on cross-fitted networks, "
        f"so this fit trains without them on one inner split; {opt('conv_folds', 5)} (the "
        "default) trains the architecture as designed"
    )
    warnings.warn(note, InputWarning, stacklevel=3)
    return [note]


def _architecture_record(model, overrides) -> dict:
    """run.json's record of the CNN's architecture: the resolved spec (every block and
    table, overrides applied) and, for a file, its path and checksum."""
    from snpcnn.models import load_architecture

    out: dict = {}
    if isinstance(model, (str, Path)) and Path(model).is_file():
        from snpcnn.report import file_checksum

        out["model_file"] = {"path": str(Path(model).resolve()), **file_checksum(model)}
    if isinstance(model, (str, Path, dict)):
        try:
            out["architecture"] = load_architecture(model, **dict(overrides or {}))
        except InputError:  # said where the model is built; the record is not the place
            pass
    return out


def _resolve_folds(folds, targets: Targets, repeats, seed, stratify) -> pd.DataFrame:
    table = _fold_table(folds, targets, repeats, seed, stratify)
    # every training part needs samples to fit on (and its baselines their fixed effects)
    for (r, f), n_test in table.groupby(["repeat", "fold"]).size().items():
        n_train = int((table["repeat"] == r).sum()) - int(n_test)
        if n_train < MIN_TRAIN_PART:
            where = f"the fold table {folds}" if isinstance(folds, (str, Path)) else "the folds"
            raise InputError(
                f"fold {f}{f' of repeat {r}' if r else ''} leaves {n_train} samples to train on "
                f"({where}: {int(n_test)} of the {n_train + int(n_test)} samples are in it); "
                f"every training part needs at least {MIN_TRAIN_PART}: put fewer samples "
                "in that fold"
            )
    _check_training_parts_vary(table, targets, folds, stratify)
    if targets.head == "binary":
        # a fold table cannot take --stratify (fit refuses the pair; tune's inner folds and
        # the benchmark's are tables too): the advice named an option that was then refused
        # (a checking helper, session 43)
        if _folds_given(folds):
            targets.one_class_fix = "give a fold table that puts both classes in every fold"
        elif not stratify and targets.groups is None:
            targets.one_class_fix = f"{opt('stratify', True)} puts both classes in every fold"
        _warn_one_class_folds(table, targets, stratify, given=_folds_given(folds))
    return table


def _check_training_parts_vary(table: pd.DataFrame, targets: Targets, folds, stratify) -> None:
    """Before any training: a training part whose observed values of a trait are all equal
    (a binary trait whose cases all sit in one test fold) leaves every model nothing to
    learn: refuse it, naming the fold and the fix (with several traits, warn: a network
    fitted on all of them still learns from the others)."""
    import warnings

    ids = table["sample_id"].astype(str).to_numpy()
    for j, trait in enumerate(targets.traits):
        y = pd.Series(targets.y[:, j], index=pd.Index(targets.sample_ids.astype(str)))
        values = y.reindex(ids).to_numpy()
        for r in np.unique(table["repeat"]):
            in_r = (table["repeat"] == r).to_numpy()
            for f in np.unique(table.loc[in_r, "fold"]):
                train = values[in_r & (table["fold"] != f).to_numpy()]
                train = train[~np.isnan(train)]
                if len(train) == 0 or np.unique(train).size > 1:
                    continue
                n_test = int(np.sum(~np.isnan(values[in_r & (table["fold"] == f).to_numpy()])))
                if n_test and np.sum(values[in_r] != train[0]) == 1:
                    fix = (
                        "one sample has another value, and cross-validation needs at least two "
                        "(one to train on, one to test)"
                    )
                elif _folds_given(folds):
                    fix = f"give a fold table that spreads {trait}'s values over the folds"
                elif targets.head == "binary" and not stratify and targets.groups is None:
                    # (with --groups, --stratify is refused: a review, session 43)
                    fix = f"add {opt('stratify', True)}, or use fewer folds"
                else:
                    fix = "use fewer folds"
                what = (
                    f"trait '{trait}': the training part of fold {f}"
                    f"{f' of repeat {r}' if r else ''} holds only the value {train[0]:g} "
                    f"({len(train)} sample{'s' if len(train) > 1 else ''}; every other value "
                    f"is among the {n_test} of its test fold)"
                )
                if len(targets.traits) == 1:
                    raise InputError(f"{what}, so no model can learn from it: {fix}")
                # fitted with other traits, a network still learns from those; each
                # one-trait model predicts that value there
                warnings.warn(
                    f"{what}: no model learns '{trait}' there, and its one-trait models "
                    f"predict that value; {fix}",
                    InputWarning,
                    stacklevel=3,
                )


def _warn_one_class_folds(
    table: pd.DataFrame, targets: Targets, stratify, given: bool = False
) -> None:
    """Before any training: test folds that hold one class of a binary trait have no AUC
    (every model's is undefined there), so say so, and how to avoid it."""
    import warnings

    y = pd.Series(targets.y[:, 0], index=pd.Index(targets.sample_ids.astype(str)))
    test = y.reindex(table["sample_id"].astype(str)).to_numpy()
    one = [
        (int(r), int(f))
        for (r, f), cls in pd.DataFrame(
            {"repeat": table["repeat"], "fold": table["fold"], "y": test}
        ).groupby(["repeat", "fold"])["y"]
        if cls.dropna().nunique() < 2
    ]
    if one:
        r, f = one[0]
        fix = f"; {targets.one_class_fix}" if targets.one_class_fix else ""
        warnings.warn(
            f"{len(one)} of {table.groupby(['repeat', 'fold']).ngroups} test folds hold one "
            f"class of '{targets.traits[0]}' only (e.g. repeat {r} fold {f}): no model has an "
            f"AUC there, and they are left out of the means{fix}",
            InputWarning,
            stacklevel=2,
        )
        return
    # a rare class spread unevenly by random folds: each fold's AUC rests on a handful of
    # cases (1 to 4 of 12 cases per fold, AUCs 0.19 to 0.56, without a word: a checking
    # helper, session 39)
    minority = pd.DataFrame({"repeat": table["repeat"], "fold": table["fold"], "y": test})
    counts = minority.dropna().groupby(["repeat", "fold"])["y"].agg(["sum", "count"])
    rare = np.minimum(counts["sum"], counts["count"] - counts["sum"])
    if not given and rare.min() < 5:
        k = int(table["fold"].nunique())
        total = int(rare.groupby(level="repeat").sum().min())
        if not stratify and targets.groups is None and total >= 5 * k:
            fix = f"{opt('stratify', True)} spreads them evenly over the folds"
        else:
            fewer = max(2, total // 5)
            fix = (
                f"fewer folds ({opt('folds', fewer)}) give each fold more"
                if fewer < k
                else "few cases make any AUC noisy"
            )
        lo, hi = int(rare.min()), int(rare.max())
        span = f"{lo} sample{'s' if lo != 1 else ''}" if lo == hi else f"{lo} to {hi} samples"
        note = (
            f"the rarer class of '{targets.traits[0]}' has {span} per test fold: each fold's "
            f"AUC rests on a handful of them and is noisy; {fix}"
        )
        warnings.warn(note, InputWarning, stacklevel=2)
        # a run note too (summary.md, run.json): it reached the console only (a checking
        # helper, session 46)
        targets.report["rare_class"] = note


def _folds_given(folds) -> bool:
    """Whether ``folds`` is a fold table (a DataFrame or a file), not a number K."""
    return isinstance(folds, pd.DataFrame) or (
        isinstance(folds, (str, Path)) and not str(folds).isdigit()
    )


def refuse_shaping_given_folds(folds, what: str) -> None:
    """Refuse ``what`` (an option that shapes random folds: stratify, groups) beside a fold
    table or file, which it would not change (fit and tune)."""
    if _folds_given(folds):
        what = opt(what)
        source = folds if isinstance(folds, (str, Path)) else "a fold table"
        raise InputError(
            f"{what} shapes random folds, but the folds are given ({source}) and it would be "
            f"ignored: leave out {what}, or give {opt('folds', 'K', placeholder=True)} for "
            "random folds"
        )


def _fold_table(folds, targets: Targets, repeats, seed, stratify) -> pd.DataFrame:
    if targets.groups is not None or stratify:
        refuse_shaping_given_folds(folds, "groups" if targets.groups is not None else "stratify")
    if isinstance(folds, pd.DataFrame):
        return check_fold_frame(folds, targets.sample_ids, repeats)
    if isinstance(folds, (str, Path)) and not str(folds).isdigit():
        table = read_folds(folds, targets.sample_ids)
        if repeats > 1:
            raise InputError(
                f"{opt('repeats')} needs random folds ({opt('folds', 'K', placeholder=True)}), "
                "not a fold file"
            )
        return table
    k = int(folds)
    strat = None
    if stratify:
        if targets.head != "binary":
            raise InputError(f"{opt('stratify')} is for binary traits; this trait is quantitative")
        strat = targets.y[:, 0]
    return make_folds(
        targets.sample_ids,
        k,
        repeats,
        seed,
        stratify=strat,
        groups=targets.groups,
        # a too-rare class is named as the file names it (1/2 of a PLINK file), not by its
        # 0/1 code (a checking helper, session 43)
        class_labels=targets.binary_levels.get(targets.traits[0]) if stratify else None,
    )


def _undefined_fold_note(targets: Targets, trait: str, observed, r: int, f: int) -> str:
    """The note for a test fold whose observed values are all equal: no model is scored."""
    head = targets.head
    levels = targets.binary_levels.get(trait)
    code = float(observed[0])
    value = level_text(levels[int(code)] if levels and head == "binary" else code)
    if head == "binary":
        return (
            f"repeat {r} fold {f}: every test sample of '{trait}' is {value} (one class), so no "
            "model has an AUC there; the fold is left out of the means and comparisons"
            + (f" ({targets.one_class_fix})" if targets.one_class_fix else "")
        )
    return (
        f"repeat {r} fold {f}: every test sample of '{trait}' has the value {value}, so no "
        "model has a correlation there; the fold is left out of the means and comparisons"
    )


def _two_traits() -> str:
    """Two environments named as traits, as the user would: options or a list."""
    return "--trait E1 --trait E2" if CLI_MODE.get() else "traits=['E1', 'E2']"


def _check_baselines(baselines):
    from snpcnn.baselines import make_baseline

    for b in baselines:
        if b != MT_BASELINE:
            make_baseline(b)  # raises InputError on an unknown name


def _drop_oversized_baselines(baselines, fold_table):
    """Say on the console which kernel baselines take their Nystrom approximation (above
    snpcnn.baselines.KERNEL_MAX_N training rows); returns the baselines (all kept) and the
    messages (run notes)."""
    from snpcnn.baselines import drop_oversized

    n_train = 0
    for _, rep in fold_table.groupby("repeat"):
        n_rep = rep["sample_id"].nunique()
        n_train = max(n_train, n_rep - int(rep.groupby("fold")["sample_id"].nunique().min()))
    kept, notes = drop_oversized(baselines, n_train)
    for note in notes:
        log.warning(note)
    return kept, notes


def _fit_preprocessor(genotypes, pre_settings, rows, y, c) -> GenotypePreprocessor:
    """Fit the genotype preprocessing on ``rows``; preselection uses the first trait's
    phenotyped rows among them (it is refused for several traits)."""
    pre = GenotypePreprocessor(**pre_settings)
    if not (pre.preselect_top_k or pre.preselect_p):
        return pre.fit(genotypes, rows)
    ok = ~np.isnan(y[:, 0])
    return pre.fit(genotypes, rows[ok], y=y[ok, 0], covariates=None if c is None else c[ok])


def named_twice_note(traits) -> str:
    """The run note for traits named more than once (each is fitted once); the CLI adds it
    to its results, as it dedupes the names before cross_validate sees them."""
    traits = list(traits)
    twice = sorted({t for t in traits if traits.count(t) > 1})
    return (
        f"{opt('traits')} {', '.join(map(repr, twice))} named more than once; each trait "
        "is fitted once"
    )


def _input_notes(
    genotypes, targets, fold_table, data, pre_cfg, cnn, baselines, train_head=None, call_rate=None
) -> list[str]:
    """What a breeder should know about the inputs before reading the results (run notes,
    also logged): uneven folds, extreme trait values, missing groups, poorly called samples,
    a binary trait's covariates, its positive class, a preselection that selects nothing."""
    notes = (
        trait_outlier_notes(targets)
        + covariate_code_notes(targets)
        + [
            targets.report.get("no_calls"),
            targets.report.get("groups_missing"),
            targets.report.get("groups_many"),
            targets.report.get("copied_traits"),
            targets.report.get("rare_class"),
            fold_table.attrs.get("repeated_split"),
        ]
    )
    if data.traits and len(set(data.traits)) < len(data.traits):
        notes.append(named_twice_note(data.traits))
    sizes = fold_table.groupby(["repeat", "fold"]).size()
    if len(sizes) and sizes.max() > 3 * sizes.min():
        notes.append(
            f"the test folds are very unequal ({int(sizes.min())} to {int(sizes.max())} "
            "samples): each fold's r weighs the same in the mean"
            + (
                f", and the training part beside a large fold is small (with "
                f"{opt('groups')} '{data.groups}', one large group makes one large fold)"
                if data.groups
                else ""
            )
        )
    if call_rate is None and genotypes.n_snps:  # one pass over the matrix, not two
        call_rate = genotypes.call_rate_sample()
    rate = call_rate[targets.geno_index] if call_rate is not None else None
    if rate is not None and (rate < LOW_SAMPLE_CALL_RATE).any():
        worst = int(np.argmin(rate))
        notes.append(
            f"{int((rate < LOW_SAMPLE_CALL_RATE).sum())} sample(s) have calls at fewer than "
            f"{LOW_SAMPLE_CALL_RATE:.0%} of the SNPs (lowest: '{targets.sample_ids[worst]}', "
            f"{math.floor(rate[worst] * 1000) / 10:.1f}%); their missing genotypes are the training means, so their "
            "predictions are less reliable (a linear model's lean toward the training average; "
            "a kernel start's or the convolutions' need not): if they are failed samples, drop "
            "them"
        )
    if cnn and targets.head == "binary" and train_head == "regression":
        notes.append(
            f"trait '{targets.traits[0]}' is binary: the CNN hybrid fits it as a linear "
            "probability model on the 0/1 codes, as GBLUP does"
            + (" (covariates as fixed effects)" if targets.use_covariates else "")
            + "; its predictions are expected 0/1 values, ranked by ROC AUC"
        )
    elif cnn and targets.head == "binary" and targets.use_covariates:
        fitted = ", ".join(_baseline_label(b) for b in baselines)
        notes.append(
            f"trait '{targets.traits[0]}' is binary and the CNN has a sigmoid output: it does "
            f"not use the covariates ({', '.join(data.covariates or [])})"
            + (
                f", while {fitted} {'fits' if len(baselines) == 1 else 'fit'} them as fixed "
                "effects, so CNN against them compares genotypes alone with covariates + "
                "genotypes (the 'Covariates only' row shows what the covariates alone reach); "
                f"fit without {opt('covariates')} for a like-for-like comparison"
                if baselines
                else "; the default CNN (a linear probability model) uses them"
            )
        )
    lpm_cnn = cnn and train_head == "regression"
    if targets.head == "binary" and baselines and not lpm_cnn:
        fitted = ", ".join(_baseline_label(b) for b in baselines)
        notes.append(
            f"trait '{targets.traits[0]}' is binary: {fitted} "
            f"{'fits' if len(baselines) == 1 else 'fit'} it as a linear probability model "
            "on the 0/1 codes (variance components, where the model has them, on the "
            "observed 0/1 scale, not the liability scale); "
            f"{'its' if len(baselines) == 1 else 'their'} predictions are scores ranked by "
            "ROC AUC, not probabilities"
        )
    for t, (lo, hi) in targets.binary_levels.items():
        # how many of each: an accuracy (0.5 cut-off) means little without the base rate (a
        # checking helper, session 46: 'Covariates only' 0.699 where 70 % are controls)
        yj = targets.y[:, targets.traits.index(t)]
        n1, n0 = int(np.sum(yj == 1)), int(np.sum(yj == 0))
        major = hi if n1 > n0 else lo
        notes.append(
            f"trait '{t}' has two values, {lo:g} and {hi:g}: fitted as a binary trait; "
            f"{hi:g} is the positive class, coded 1 in predictions.csv ({lo:g} coded 0), scored "
            f"by ROC AUC; {n1:,} samples are {hi:g} and {n0:,} are {lo:g} ({n1 / max(n1 + n0, 1):.1%} "
            f"{hi:g}): calling every sample {major:g} scores accuracy "
            f"{max(n1, n0) / max(n1 + n0, 1):.3f}"
        )
    top_k = pre_cfg.preselect_top_k
    if top_k is not None and top_k >= genotypes.n_snps:
        # nothing to select: say so rather than report a preselection that did nothing
        notes.append(
            f"SNP preselection top-k ({top_k:,}) is not below the {genotypes.n_snps:,} SNPs "
            "in the genotypes: it keeps every SNP that passes the other filters"
        )
    notes = [n for n in notes if n]
    for n in notes:
        log.warning(n)
    return notes


def cross_validate(
    genotypes: Genotypes | str | Path,
    phenotypes: Any,
    traits: Sequence[str] | str | None = None,
    *,
    data: DataConfig | None = None,
    preprocessing: PreprocessConfig | None = None,
    training: TrainingConfig | None = None,
    execution: ExecutionConfig | None = None,
    covariates: Sequence[str] | None = None,
    covariates_path: str | Path | None = None,
    id_column: str | None = None,
    model: Any = "snpcnn_default",
    encoding: str = TRAIN_DEFAULTS["encoding"],
    scaling: str = TRAIN_DEFAULTS["scaling"],
    folds: int | str | Path | pd.DataFrame = 5,
    repeats: int = 1,
    stratify: bool = False,
    cv_scheme: str = "cv1",
    groups: str | None = None,
    epochs: int = TRAIN_DEFAULTS["epochs"],
    batch_size: int = TRAIN_DEFAULTS["batch_size"],
    learning_rate: float = TRAIN_DEFAULTS["learning_rate"],
    patience: int = TRAIN_DEFAULTS["patience"],
    val_fraction: float = TRAIN_DEFAULTS["val_fraction"],
    n_seeds: int = TRAIN_DEFAULTS["n_seeds"],
    baselines: Sequence[str] | BaselineConfig = DEFAULT_BASELINE_NAMES,
    ensemble: bool = True,
    min_maf: float = 0.0,
    min_call_rate: float = 0.0,
    preselect_top_k: int | None = None,
    preselect_p: float | None = None,
    seed: int = 0,
    refit: bool = True,
    cnn: bool = True,
    jit_compile: bool = False,
    linear_init: str = TRAIN_DEFAULTS["linear_init"],
    conv_gate: float = TRAIN_DEFAULTS["conv_gate"],
    conv_folds: int = TRAIN_DEFAULTS["conv_folds"],
    model_overrides: dict[str, Any] | None = None,
    progress: Callable[..., None] | None = None,
    skip: Callable[[int, int], dict | None] | None = None,
    on_fold: Callable[[int, int, dict], None] | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    threads: int | None = None,
) -> CVResults:
    """Cross-validate a CNN and the baselines (GBLUP, ridge, RKHS) on the same folds.

    The settings come in five groups, each a validated object of
    :mod:`snpcnn.config` (``data=``, ``preprocessing=``, ``training=``,
    ``baselines=``, ``execution=``), or as the keywords below, which are folded
    into those objects.  Both can be mixed: a keyword left at its default defers
    to the object; a keyword that sets a field the object sets to another value is
    an :class:`~snpcnn.errors.InputError`.  Either way gives the same results.

    Parameters
    ----------
    genotypes : Genotypes or path
        Any format :func:`snpcnn.io.read_genotypes` reads.
    phenotypes : Phenotypes or path
        A phenotype table (see :func:`snpcnn.io.phenotypes.read_phenotypes`);
        joined to the genotypes by sample id.
    traits : str or list of str, optional
        Trait column(s).  Default: the only or first numeric trait.
    data : snpcnn.config.DataConfig, optional
        ``traits``, ``covariates``, ``covariates_path``, ``id_column``, ``folds``,
        ``repeats``, ``stratify``, ``cv_scheme``, ``groups``, ``seed``.
    preprocessing : snpcnn.config.PreprocessConfig, optional
        ``encoding``, ``scaling``, ``min_maf``, ``min_call_rate``,
        ``preselect_top_k``, ``preselect_p``.
    training : snpcnn.config.TrainingConfig, optional
        ``model``, ``epochs``, ``batch_size``, ``learning_rate``, ``patience``,
        ``val_fraction``, ``n_seeds``, ``jit_compile``, ``linear_init``,
        ``conv_gate``, ``conv_folds``, ``model_overrides``, ``cnn``.
    execution : snpcnn.config.ExecutionConfig, optional
        ``refit``, ``progress``, ``skip``, ``on_fold``, ``workers``,
        ``ray_address``, ``threads``.
    covariates : list of str, optional
        Covariate columns (numeric, or categorical -> one-hot), fitted as fixed
        effects inside each training part.
    model : preset name, dict or TOML path
        The CNN architecture (see :func:`snpcnn.models.build_model`).
    folds : int, path or DataFrame
        K for random K-fold, a ``sample_id -> fold`` file, or a fold table.
    baselines : list of str, or snpcnn.config.BaselineConfig
        Baselines evaluated on the same folds with the same preprocessing: GBLUP,
        ridge regression (RR-BLUP) and RKHS (Gaussian-kernel GBLUP, nonlinear) by
        default; also "gblup_ad", "egblup" and "mtgblup".  A
        :class:`~snpcnn.config.BaselineConfig` carries ``ensemble`` too.
    ensemble : bool
        Also score the average of the CNN's and GBLUP's predictions ("CNN+GBLUP").
    seed : int
        One seed for folds, inner splits and network initialisation; the same
        seed gives bitwise-identical results on CPU.
    linear_init : {"ridge", "ridge_loo", "zeros"}
        For architectures with a linear SNP path (``[linear]``, as in
        ``snpcnn_default``): start it at the ridge (RR-BLUP) solution of the
        inner training rows, frozen, so the convolutions learn what the additive
        model misses (kept only if that improves the inner validation loss);
        ``"ridge_loo"``: the ridge of all training rows, with the convolutions
        trained on its exact leave-one-out residuals (see
        :class:`snpcnn.training.TrainConfig`); or train it jointly from zero.
    conv_gate : float
        With a ridge start, keep the convolutions' correction only if it lowers
        the inner-validation squared error at this significance level (one-sided
        paired t-test); 0 keeps any improvement.
    conv_folds : int
        With a ``"ridge_loo"`` start: 0 = one inner validation split decides
        (early stopping and the gate on ``val_fraction`` of the training rows);
        K >= 2 = cross-fitted convolutions: K networks, each trained on K-1 parts
        of the training rows, give every training row an out-of-fold correction;
        the correction's weight and the keep/drop gate are decided on all training
        rows, and the CNN averages the K networks (default 5; docs/models.md).
    refit : bool
        Refit the CNN on all phenotyped samples (epochs = median early-stopping
        epoch over folds) and return it as ``results.final_bundle``.
    progress : callable, optional
        Called as ``progress(kind, **info)`` with kind "start", "fold_start", "epoch",
        "fold_trained", "baseline_start", "baseline_done", "fold_done", "refit_start",
        "refit_done": :class:`snpcnn.progress.Progress` renders them.
    skip, on_fold : callables, optional
        Resume support: ``skip(repeat, fold)`` may return a stored fold result
        dict (then the fold is not recomputed); ``on_fold(repeat, fold, result)``
        receives each finished fold.
    workers, ray_address, threads : optional
        Run the folds as tasks of :class:`snpcnn.executor.Executor`: on a local
        Ray with ``workers`` CPUs, or on the Ray cluster at ``ray_address``, with
        ``threads`` BLAS/TensorFlow threads per task
        (:func:`snpcnn.executor.cross_validate_parallel`; not with ``skip`` or
        ``on_fold``).  The same folds and seeds as the serial run.

    The other keywords (``covariates_path``, ``id_column``, ``encoding``,
    ``scaling``, ``repeats``, ``stratify``, ``cv_scheme``, ``groups``, ``epochs``,
    ``batch_size``, ``learning_rate``, ``patience``, ``val_fraction``, ``n_seeds``,
    ``min_maf``, ``min_call_rate``, ``preselect_top_k``, ``preselect_p``, ``cnn``,
    ``jit_compile``, ``model_overrides``) are described with their config object.

    Returns
    -------
    CVResults

    Examples
    --------
    >>> from snpcnn.config import DataConfig, TrainingConfig
    >>> res = cross_validate(                                            # doctest: +SKIP
    ...     "wheat.bed", "wheat.csv",
    ...     data=DataConfig(traits="GY_E1", folds=10, seed=1),
    ...     training=TrainingConfig(epochs=100),
    ...     baselines=["gblup"],
    ... )
    """
    groups_ = from_keywords(locals(), KEYWORD_DEFAULTS)
    data = groups_["data"]
    pre_cfg = groups_["preprocessing"]
    training = groups_["training"]
    base_cfg = groups_["baselines"]
    execution = groups_["execution"]
    del groups_
    if execution.parallel:  # the folds as executor tasks, assembled by a serial call
        from snpcnn.executor import cross_validate_parallel

        return cross_validate_parallel(
            genotypes,
            phenotypes,
            data=data,
            preprocessing=pre_cfg,
            training=training,
            baselines=base_cfg,
            execution=execution,
        )
    cnn = training.cnn
    progress = execution.progress
    t_start = time.perf_counter()
    baselines = list(base_cfg.names)
    if not cnn and not baselines:
        raise InputError("nothing to run: cnn=False and no baselines; name a baseline or the CNN")
    genotypes, phenotypes, align = _load_inputs(
        genotypes,
        phenotypes,
        data.covariates,
        data.covariates_path,
        data.id_column,
        traits=data.traits,
        groups=data.groups,
    )
    traits = list(dict.fromkeys(data.traits)) if data.traits else [phenotypes.default_trait()]
    al = align(genotypes, phenotypes, traits=traits)
    call_rate = genotypes.call_rate_sample() if genotypes.n_snps else None
    targets = _targets_from_alignment(
        al, phenotypes, traits, data.covariates, data.groups, call_rate
    )
    cv_scheme = _check_scheme(
        data.cv_scheme, targets, baselines, data.folds, data.groups, data.stratify
    )
    if cv_scheme == "cv2":
        from snpcnn.folds import make_cell_folds

        fold_table = make_cell_folds(
            targets.sample_ids,
            ~np.isnan(targets.y),
            targets.traits,
            int(data.folds),
            data.repeats,
            data.seed,
        )
    else:
        fold_table = _resolve_folds(data.folds, targets, data.repeats, data.seed, data.stratify)
    baselines, size_notes = _drop_oversized_baselines(baselines, fold_table)
    labels = fold_table.attrs.get("fold_labels")
    if labels and labels != [str(i + 1) for i in range(len(labels))]:
        # renumbered 1..K: said in the notes (summary.md, run.json), not only on stderr
        shown = ", ".join(f"{i + 1} = '{v}'" for i, v in enumerate(labels[:8]))
        size_notes.append(
            f"the results number the folds 1..{len(labels)} in the sorted order of the fold "
            f"file's labels: {shown}{', ...' if len(labels) > 8 else ''}"
        )
    train_head = cnn_head(targets.head, training.model, training.linear_init)
    if cnn:
        size_notes += _uncrossfitted_note(training)
    size_notes += _input_notes(
        genotypes, targets, fold_table, data, pre_cfg, cnn, baselines, train_head, call_rate
    )
    t_load = time.perf_counter() - t_start

    pre_settings = pre_cfg.settings()
    if pre_cfg.preselects and len(targets.traits) > 1:
        raise InputError(
            "SNP preselection is per trait: fit one "
            + ("--trait" if CLI_MODE.get() else "trait")
            + " at a time with it"
        )
    train_cfg = training.train_config()
    model = training.model
    cnn_name = cnn_label(training.model, training.linear_init, train_head)
    models = ([cnn_name] if cnn else []) + [_baseline_label(b) for b in baselines]
    if cnn and cnn_name == HYBRID_NAME and training.linear_init == "ridge_loo":
        # the hybrid's start, scored beside it
        models.insert(1, start_label(model, len(targets.traits), training.conv_folds))
    if base_cfg.ensemble and cnn and "gblup" in baselines:
        models.append(ENSEMBLE_NAME)
    if targets.use_covariates and baselines:
        models.append(FIXED_NAME)
    folds = data.folds
    from snpcnn.executor import serial_execution

    config = {
        "traits": list(targets.traits),
        "covariates": list(data.covariates or []),
        "covariate_columns": targets.covariate_names,
        "head": targets.head,
        "cnn_head": train_head,
        "binary_levels": targets.binary_levels,
        "model": model
        if isinstance(model, (str, dict))
        else getattr(model, "__name__", str(model)),
        "model_overrides": dict(training.model_overrides),
        # the network as it was built, so that a run with an edited file stays auditable
        **(_architecture_record(model, training.model_overrides) if cnn else {}),
        "encoding": pre_cfg.encoding,
        "scaling": pre_cfg.scaling,
        "folds": folds
        if isinstance(folds, int)
        else str(folds)
        if not isinstance(folds, pd.DataFrame)
        else "table",
        "n_folds": int(fold_table["fold"].nunique()),
        "repeats": int(fold_table["repeat"].nunique()),
        "stratify": data.stratify,
        "cv_scheme": cv_scheme,
        "groups": data.groups,
        "epochs": training.epochs,
        "batch_size": training.batch_size,
        "learning_rate": training.learning_rate,
        "patience": training.patience,
        "val_fraction": training.val_fraction,
        "n_seeds": training.n_seeds,
        "linear_init": training.linear_init,
        "conv_gate": training.conv_gate,
        "conv_folds": training.conv_folds,
        "baselines": baselines,
        "ensemble": base_cfg.ensemble,
        "min_maf": pre_cfg.min_maf,
        "min_call_rate": pre_cfg.min_call_rate,
        "preselect_top_k": pre_cfg.preselect_top_k,
        "preselect_p": pre_cfg.preselect_p,
        "seed": data.seed,
        "cnn": cnn,
        # --xla: asked for; a model Keras cannot compile runs without it (a note says so)
        "jit_compile": bool(training.jit_compile),
        # how the folds ran (the Ray executor replaces it) and the thread count applied
        "execution": serial_execution(),
    }
    refit = cnn and execution.refit
    if refit:
        _check_refit_size(genotypes, targets, pre_settings)
    splits = [
        (int(r), int(f))
        for r, f in fold_table[["repeat", "fold"]]
        .drop_duplicates()
        .sort_values(["repeat", "fold"])
        .itertuples(index=False)
    ]
    epochs, conv_folds = training.epochs, training.conv_folds
    if progress:
        # epoch callbacks per fold: each epoch of each network (seeds, or cross-fitted parts)
        nets = (
            conv_folds
            if (any(is_start_row(m) for m in models) and conv_folds >= 2)
            else training.n_seeds
        )
        progress(
            "start",
            n_splits=len(splits),
            epochs=epochs * nets if cnn else 0,
            refit_epochs=epochs * nets if refit else 0,
            nets=nets,
            baselines=[_baseline_label(b) for b in baselines],
        )

    metric_rows: list[dict] = []
    pred_frames: list[pd.DataFrame] = []
    histories: list[dict] = []
    best_epochs: list[int] = []
    lrs: list[float] = []
    notes: list[str] = list(size_notes)
    t_cnn = t_base = 0.0
    cnn_rates: list[float] = []
    snp_counts: list[dict] = []  # per fold: SNPs in, after the filters, after preselection
    mt_folds: list[dict] = []  # per fold: the MT-GBLUP baseline's correlations (run.json)
    for r, f in splits:
        if progress:
            progress("fold_start", repeat=r, fold=f)
        stored = execution.skip(r, f) if execution.skip else None
        if stored is None:
            res = _run_fold(
                genotypes,
                targets,
                fold_table,
                r,
                f,
                pre_settings,
                train_cfg,
                baselines,
                base_cfg.ensemble,
                cnn,
                data.seed,
                progress,
            )
            if execution.on_fold:
                execution.on_fold(r, f, res)
        else:
            res = stored
        metric_rows.extend(res["metrics"])
        pred_frames.append(pd.DataFrame(res["predictions"]))
        if res.get("history") is not None:
            histories.append(res["history"])
            best_epochs.extend(res["history"]["best_epochs"])
            lrs.extend(res["history"]["learning_rates"])
            cnn_rates.append(res["history"].get("samples_per_second", float("nan")))
        notes.extend(n for n in res.get("notes", []) if n not in notes)  # once, not per fold
        if res.get("snps"):
            snp_counts.append({"repeat": r, "fold": f, **res["snps"]})
        if res.get("mtgblup"):
            mt_folds.append(res["mtgblup"])
        t_cnn += res.get("seconds_cnn", 0.0)
        t_base += res.get("seconds_baselines", 0.0)
        if progress:
            progress("fold_done", repeat=r, fold=f)

    metrics = pd.DataFrame(metric_rows)
    predictions = pd.concat(pred_frames, ignore_index=True) if pred_frames else pd.DataFrame()
    scored = set(metrics["trait"]) if len(metrics) else set()
    for t in targets.traits:
        if t not in scored:
            # one line for the trait, beside the per-fold notes: its tables were empty without
            # a word of why (a review, session 46)
            notes.append(
                f"trait '{t}' has no score: no test fold held {MIN_TEST_FOLD} or more of its "
                f"values ({int(np.sum(~np.isnan(targets.y[:, targets.traits.index(t)])))} "
                "samples have one); use fewer folds"
                + (
                    ", or fit it without the other traits (its folds are then drawn over its "
                    "own samples)"
                    if len(targets.traits) > 1 and not _folds_given(folds)
                    else ""
                )
            )
    bundle = None
    t_refit = 0.0
    config["refit"] = bool(refit)  # False: no model.keras (--no-refit)
    if refit:
        t0 = time.perf_counter()
        # 0 is possible: with a ridge-started wide model, "the convolutions added nothing"
        final_epochs = int(np.median(best_epochs)) if best_epochs else epochs
        final_lr = float(pd.Series(lrs).mode().iloc[0]) if lrs else training.learning_rate
        if progress:
            # cross-fitted convolutions stop early on their own in the refit too
            # every start row's name (v6 and later name GBLUP-AD, the LASSO, ...)
            crossfit = any(is_start_row(m) for m in models) and conv_folds >= 2
            progress(
                "refit_start",
                epochs=epochs if crossfit else final_epochs,
                up_to=crossfit,
                n_samples=len(targets.sample_ids),
            )
        try:
            bundle = _refit(
                genotypes,
                targets,
                pre_settings,
                train_cfg,
                final_epochs,
                final_lr,
                data.seed,
                progress,
                config,
            )
        except (InputError, MemoryError) as exc:
            # keep the finished cross-validation: its results are returned (and written);
            # the error's own words, without its class name (a checking helper, session 54)
            msg = (
                f"the final refit on all {len(targets.sample_ids):,} samples failed: "
                f"{exc if isinstance(exc, InputError) else _out_of_memory(exc)}; the "
                "cross-validation results are kept, without a fitted model (model.keras)"
            )
            log.warning(msg)
            notes.append(msg)
            config["refit_failed"] = str(exc)
        else:
            note = refit_start_note(histories, config, len(targets.sample_ids))
            if note:  # (printed with the run's other notes at the end)
                notes.append(note)
        config["refit_epochs"] = final_epochs
        config["refit_learning_rate"] = final_lr
        t_refit = time.perf_counter() - t0
    if mt_folds:
        config["mtgblup_folds"] = mt_folds
    note = boundary_correlation_note(histories, config, list(targets.traits), mt_folds)
    if note:
        notes.append(note)
    timings = {
        "load_seconds": t_load,
        "cnn_seconds": t_cnn,
        "baseline_seconds": t_base,
        "refit_seconds": t_refit,
        "total_seconds": time.perf_counter() - t_start,
        "cnn_train_samples_per_second": float(np.nanmedian(cnn_rates)) if cnn_rates else 0.0,
    }
    data_report = {
        "genotypes": {
            "source": genotypes.source,
            "n_samples": genotypes.n_samples,
            "n_snps": genotypes.n_snps,
            "load_report": genotypes.report,
        },
        "phenotypes": {"source": getattr(phenotypes, "source", None)},
        "alignment": targets.report,
        "n_samples_used": int(len(targets.sample_ids)),
        "n_per_trait": {
            t: int(np.sum(~np.isnan(targets.y[:, j]))) for j, t in enumerate(targets.traits)
        },
        "snps_per_fold": snp_counts,
    }
    return CVResults(
        metrics=metrics,
        predictions=predictions,
        histories=histories,
        folds=fold_table,
        traits=list(targets.traits),
        models=models,
        head=targets.head,
        config=config,
        data_report=data_report,
        timings=timings,
        device=device_description() if cnn else "CPU",
        final_bundle=bundle,
        notes=notes,
    )


#: the defaults of :func:`cross_validate`'s keywords (what a keyword left out means)
KEYWORD_DEFAULTS: dict[str, Any] = {
    k: p.default for k, p in inspect.signature(cross_validate).parameters.items()
}


def _digest(*arrays) -> str:
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())
    return h.hexdigest()[:16]


def _baseline_label(name: str) -> str:
    from snpcnn.baselines import BASELINE_LABELS

    if name == MT_BASELINE:
        return MT_LABEL
    return BASELINE_LABELS.get(name, name)


def _check_scheme(cv_scheme, targets: Targets, baselines, folds, groups, stratify=False) -> str:
    """Validate ``cv_scheme`` (and the multi-trait baseline) against the data; return it."""
    scheme = str(cv_scheme).strip().lower()
    if scheme not in CV_SCHEMES:
        raise InputError(
            f"{opt('cv_scheme')} must be one of {', '.join(CV_SCHEMES)}; got {cv_scheme!r}"
        )
    multi = len(targets.traits) >= 2 and targets.head == "regression"
    if MT_BASELINE in baselines and not multi:
        raise InputError(
            "the multi-trait GBLUP baseline (mtgblup) needs at least 2 different quantitative "
            f"traits: name each environment as a trait, e.g. {_two_traits()} "
            f"(got {', '.join(targets.traits)})"
        )
    if scheme == "cv2":
        if not multi:
            raise InputError(
                f"{opt('cv_scheme', 'cv2')} predicts lines in environments where they were not "
                "observed: it needs at least 2 different quantitative traits (one per "
                f"environment), e.g. {_two_traits()} (got {', '.join(targets.traits)})"
            )
        if not (isinstance(folds, int) or str(folds).isdigit()):
            raise InputError(
                f"{opt('cv_scheme', 'cv2')} makes its own folds of (line, environment) cells: "
                f"give {opt('folds', 'K', placeholder=True)}"
            )
        if groups:
            raise InputError(f"{opt('cv_scheme', 'cv2')} does not combine with {opt('groups')}")
        if stratify:
            raise InputError(
                f"{opt('cv_scheme', 'cv2')} does not combine with {opt('stratify')}: it makes "
                "folds of (line, environment) cells, not of lines"
            )
    return scheme


def _split(fold_table: pd.DataFrame, targets: Targets, r: int, f: int):
    """(train rows, test rows, y of the training rows, y of the test rows) of one fold.

    CV1 (a ``sample_id -> fold`` table): the test lines are hidden in every trait.  CV2 (a
    table with a ``trait`` column, one fold per observed cell): the cells of fold ``f`` are
    hidden (NaN in the training y) and are the only cells scored; the same lines' other cells
    stay in training.
    """
    ft = fold_table[fold_table["repeat"] == r]
    if "trait" not in ft.columns:
        fold_of = ft.set_index("sample_id")["fold"].reindex(targets.sample_ids).to_numpy()
        test = fold_of == f
        train = ~test
        return train, test, targets.y[train], targets.y[test]
    cells = ft[ft["fold"] == f]
    row_of = pd.Series(np.arange(len(targets.sample_ids)), index=targets.sample_ids)
    col_of = {t: j for j, t in enumerate(targets.traits)}
    hidden = np.zeros(targets.y.shape, dtype=bool)
    hidden[
        row_of.reindex(cells["sample_id"].astype(str)).to_numpy(),
        cells["trait"].map(col_of).to_numpy(),
    ] = True
    observed = ~np.isnan(targets.y)
    hidden &= observed
    train = (observed & ~hidden).any(axis=1)
    test = hidden.any(axis=1)
    y_tr = np.where(hidden, np.nan, targets.y)[train]
    y_te = np.where(hidden, targets.y, np.nan)[test]
    return train, test, y_tr, y_te


def _check_refit_size(genotypes, targets, pre_settings) -> None:
    """Refuse, before the first fold, a refit whose encoded matrix would pass the cap
    (:data:`MAX_DENSE_BYTES`), which would otherwise fail after the whole cross-validation."""
    from snpcnn.datapath import stream_wanted

    width = 3 if pre_settings.get("encoding") == "onehot" else 1
    n = len(targets.geno_index)
    snps = min(pre_settings.get("preselect_top_k") or genotypes.n_snps, genotypes.n_snps)
    if n * snps * width * 4 <= MAX_DENSE_BYTES or stream_wanted(n, snps, width):
        return  # small enough, or the refit streams (snpcnn.datapath)
    # the SNP filters may drop enough: fit the preprocessing on every sample to know
    c, _ = _covariates(targets, targets.sample_ids)
    pre = _fit_preprocessor(genotypes, pre_settings, targets.geno_index, targets.y, c)
    n_bytes = n * pre.n_snps * width * 4
    if n_bytes > MAX_DENSE_BYTES:
        raise InputError(
            f"the final refit on all {n:,} samples would encode a {n_bytes / 1024**3:.1f} GiB "
            f"matrix (limit {MAX_DENSE_BYTES / 1024**3:.0f} GiB) and fail after the "
            f"cross-validation; rerun with {opt('refit', False)} (the cross-validation results are "
            f"then written), or reduce the SNPs ({opt('min_maf')}, {opt('preselect_top_k')})"
        )


def _target_transform(y, c, head: str, x: np.ndarray, train_cfg: TrainConfig) -> TargetTransform:
    """The fold's target transform: fixed effects by GLS when the CNN starts at GBLUP (its
    ridge start then equals GBLUP with covariates), by least squares otherwise."""
    from snpcnn.training import starts_at_gblup

    gls = c is not None and starts_at_gblup(train_cfg, x.shape[1:], head, y.shape[1])
    return TargetTransform.fit(y, c, head, x=x if gls else None)


#: the run note of a fit whose CNN trained from streamed rows (the console says it once too)
STREAMED_NOTE = (
    "the CNN trained and predicted from rows streamed from the int8 genotypes (a fold's "
    "float32 input is above 256 MiB, or SNPCNN_STREAM=1): the same networks and batches as "
    "in memory, but what needs a fold's genotypes in memory is skipped there: the default's "
    "triple stage, and, fitted on several traits, its multi-trait start (RR-BLUP per trait "
    "instead; the start line says in how many fits) (docs/io.md, streamed folds)"
)


def _encode(pre: GenotypePreprocessor, genotypes: Genotypes, rows: np.ndarray) -> np.ndarray:
    """The CNN's input for ``rows``: the float32 matrix, or, above
    :data:`snpcnn.datapath.STREAM_BYTES` (or with ``SNPCNN_STREAM=1``), the streamed rows
    (:class:`snpcnn.datapath.EncodedRows`) that the CNN trains and predicts from batch by batch."""
    from snpcnn import datapath

    width = 3 if pre.encoding == "onehot" else 1
    if datapath.stream_wanted(len(rows), pre.n_snps, width):
        datapath.say_once(
            id(genotypes),
            f"streaming: a fold's genotypes encode to more than "
            f"{datapath.STREAM_BYTES / 1024**2:.0f} MiB of float32 (or {datapath.STREAM_ENV}=1); "
            "the CNN trains and predicts from batches read from the int8 genotypes (docs/io.md)",
        )
        return datapath.EncodedRows(genotypes, pre, rows)
    n_bytes = len(rows) * pre.n_snps * width * 4
    if n_bytes > MAX_DENSE_BYTES:
        raise InputError(
            f"the encoded training matrix would take {n_bytes / 1024**3:.1f} GiB; "
            f"reduce the SNPs ({opt('min_maf')}, {opt('preselect_top_k')}) or use the dosage "
            "encoding"
        )
    return pre.transform(genotypes, rows)


def _run_fold(
    genotypes: Genotypes,
    targets: Targets,
    fold_table: pd.DataFrame,
    r: int,
    f: int,
    pre_settings: dict,
    train_cfg: TrainConfig,
    baselines: list[str],
    ensemble: bool,
    cnn: bool,
    seed: int,
    progress,
) -> dict:
    from snpcnn.baselines import make_baseline
    from snpcnn.threads import blas_threads

    train, test, y_tr, y_te = _split(fold_table, targets, r, f)
    rows_tr = targets.geno_index[train]
    rows_te = targets.geno_index[test]
    ids_tr, ids_te = targets.sample_ids[train], targets.sample_ids[test]
    c_tr, c_te = _covariates(targets, ids_tr, ids_te)
    # per trait, the test design where a trait's training lines lack a level (multi-trait
    # fits with missing cells): those test samples get that trait's training average
    c_te_trait = _trait_test_designs(targets, ids_tr, c_tr, c_te, y_tr)
    fseed = _fold_seed(seed, r, f)

    pre = _fit_preprocessor(genotypes, pre_settings, rows_tr, y_tr, c_tr)
    preds: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {"metrics": [], "predictions": [], "notes": [], "history": None}
    # digests of everything fitted in this fold: lets a test prove the test fold never leaks
    out["fitted"] = {"preprocessing": _digest(*pre.to_arrays().values())}
    out["snps"] = dict(pre.report_)  # the SNPs this fold's models saw (summary.md, run.json)
    out["notes"].extend(_unseen_level_notes(targets, ids_tr, ids_te, r, f))
    out["notes"].extend(_trait_level_notes(targets, ids_tr, ids_te, y_tr, y_te, r, f))
    if cnn:
        t0 = time.perf_counter()
        x_tr = _encode(pre, genotypes, rows_tr)
        if not isinstance(x_tr, np.ndarray):  # recorded in summary.md and run.json too
            out["notes"].append(STREAMED_NOTE)
            out["history_extra"] = {"streamed": True}
        head = cnn_head(targets.head, train_cfg.model, train_cfg.linear_init)
        tt = _target_transform(y_tr, c_tr, head, x_tr, train_cfg)
        z_tr = tt.forward(y_tr, c_tr).astype(np.float32)
        res = train_cnn(
            x_tr,
            z_tr,
            train_cfg,
            head=head,
            seed=fseed,
            on_epoch=(lambda: progress("epoch")) if progress else None,
            start_alpha=tt.alphas,
            on_event=progress,
        )
        del x_tr
        x_te = _encode(pre, genotypes, rows_te)
        z_te = np.asarray(predict_rows(res.model, x_te, 256), dtype=np.float64)
        preds[cnn_label(train_cfg.model, train_cfg.linear_init, head)] = _per_trait(
            lambda c: tt.inverse(z_te, c), c_te, c_te_trait
        )
        if res.start is not None:
            n_traits = z_tr.shape[1] if z_tr.ndim == 2 else 1
            z_start = res.start.predict(x_te)
            preds[start_label(train_cfg.model, n_traits, train_cfg.conv_folds)] = _per_trait(
                lambda c: tt.inverse(z_start, c), c_te, c_te_trait
            )
        out["seconds_cnn"] = time.perf_counter() - t0
        out["fitted"]["cnn_weights"] = _digest(*res.model.get_weights())
        out["history"] = {
            "repeat": r,
            "fold": f,
            "histories": res.histories,
            "best_epochs": res.best_epochs,
            "ridge_start": res.ridge_start,
            "learning_rates": res.learning_rates,
            "collapsed_on_validation": res.collapsed_on_validation,
            "inner_val_r": res.inner_val_r,
            "samples_per_second": res.samples_per_second,
        }
        out["history"].update(out.pop("history_extra", {}))
        if res.conv is not None:
            out["history"]["conv"] = res.conv
        if res.retried:
            out["notes"].append(
                f"repeat {r} fold {f}: the CNN collapsed to a constant on the inner validation "
                f"split and was retrained with learning rate {min(res.learning_rates):g}"
            )
        if progress and res.best_epochs:
            progress(
                "fold_trained",
                epochs_run=max((len(h.get("loss", [])) for h in res.histories), default=0),
                networks=len(res.histories),
            )
    t0 = time.perf_counter()
    if baselines:
        from snpcnn import datapath

        run_baselines, solver = baselines, {}
        if datapath.stream_wanted(len(rows_tr), pre.n_snps):
            # no float copy of the fold: GBLUP and ridge read the int8 rows block by block
            run_baselines, skipped = datapath.streamed_baselines(baselines)
            if skipped:  # said in summary.md, results.md and run.json, not only the console
                names = ", ".join(_baseline_label(b) for b in skipped)
                they, them = ("it needs", "it") if len(skipped) == 1 else ("they need", "them")
                out["notes"].append(
                    f"{names} not run: this fold was streamed (its float32 training input "
                    f"is above 256 MiB, or SNPCNN_STREAM=1), and {they} a float copy of the "
                    f"training matrix (SNPCNN_STREAM=0 runs {them} in memory; docs/io.md)"
                )
            solver = {"solver": "iterative"}
            xd_tr = datapath.DosageRows(genotypes, pre, rows_tr)
            xd_te = datapath.DosageRows(genotypes, pre, rows_te)
            datapath.say_once(
                id(genotypes),
                "streaming: GBLUP and ridge use the large-n solver on the int8 genotypes, the "
                "kernel models and the LASSO column-block passes"
                + (
                    f"; {', '.join(_baseline_label(b) for b in skipped)} skipped (a float "
                    "copy of the training matrix needed)"
                    if skipped
                    else ""
                ),
            )
        else:
            xd_tr = pre.dosage_matrix(genotypes, rows_tr)
            xd_te = pre.dosage_matrix(genotypes, rows_te)
        for b in run_baselines:
            label = _baseline_label(b)
            if progress:
                progress("baseline_start", name=label, repeat=r, fold=f)
            tb = time.perf_counter()
            p = np.full(y_te.shape, np.nan)
            if b == MT_BASELINE:
                from snpcnn.multitrait import MultiTraitGBLUP

                with blas_threads():
                    mt = MultiTraitGBLUP().fit(xd_tr, y_tr, c_tr)
                    p[:] = _per_trait(lambda c, m=mt: m.predict(xd_te, c), c_te, c_te_trait)
                if not mt.optimizer_["success"]:
                    # a likelihood without a proper maximum (a trait on few lines, a
                    # degenerate pattern of observed cells): the covariances are where the
                    # optimiser stopped
                    out["notes"].append(
                        f"repeat {r} fold {f}: {MT_LABEL}'s covariance estimate did not converge "
                        f"({mt.optimizer_['nit']} iterations; a flat or degenerate likelihood, "
                        "e.g. an environment observed on few lines): its genetic correlations "
                        "are where the optimiser stopped"
                    )
                cg = getattr(mt, "cg_", None)
                if cg is not None and not cg["converged"]:
                    out["notes"].append(
                        f"repeat {r} fold {f}: {MT_LABEL}'s marker effects (conjugate gradient, "
                        f"large-n path) stopped after {cg['iterations']} iterations at relative "
                        f"residual {cg['rel_residual']:.1e}: its predictions are approximate"
                    )
                out["fitted"][label] = _digest(mt.Sg_, mt.Se_, mt.effects_)
                sd = np.sqrt(np.diag(mt.Sg_))
                out["mtgblup"] = {  # run.json's mtgblup_folds (session 44)
                    "repeat": r,
                    "fold": f,
                    "converged": bool(mt.optimizer_["success"]),
                    "genetic_correlations": (mt.Sg_ / np.outer(sd, sd)).round(4).tolist()
                    if np.all(sd > 0)
                    else None,
                }
            else:
                for j in range(y_tr.shape[1]):
                    ok = ~np.isnan(y_tr[:, j])
                    # the large-n solver for GBLUP / ridge on streamed folds (the LASSO
                    # and the kernel models read column blocks by themselves)
                    own = b.lower().replace("-", "").replace("_", "") not in (
                        "gblup",
                        "ridge",
                        "rrblup",
                    )
                    est = make_baseline(b, **({} if own else solver))
                    with blas_threads():  # the --threads setting (snpcnn.threads)
                        est.fit(xd_tr[ok], y_tr[ok, j], None if c_tr is None else c_tr[ok])
                        p[:, j] = est.predict(xd_te, _trait_design(c_te, c_te_trait, j))
                    if getattr(est, "no_heterozygotes_", False):
                        # inbred lines: its "dominance" share is not dominance (run once)
                        out["notes"].append(
                            f"{label}: no heterozygous calls in a training part (inbred "
                            "lines?): its dominance kernel is then another additive kernel "
                            "(the SNPs reweighted), so its dominance share measures no "
                            "dominance, and a gain over GBLUP is no evidence of dominance"
                        )
                    out["fitted"][f"{label}:{targets.traits[j]}"] = _digest(
                        *[
                            np.asarray(v)
                            for k, v in sorted(vars(est).items())
                            if k.endswith("_")
                            and isinstance(v, (int, float, np.ndarray, np.floating))
                        ]
                    )
            preds[label] = p
            if progress:
                progress("baseline_done", name=label, seconds=time.perf_counter() - tb)
        del xd_tr, xd_te
    out["seconds_baselines"] = time.perf_counter() - t0
    cnn_name = cnn_row(preds)
    if ensemble and cnn_name and "GBLUP" in preds:
        preds[ENSEMBLE_NAME] = 0.5 * (preds[cnn_name] + preds["GBLUP"])
    fixed_te = None
    if targets.use_covariates and targets.head == "regression":
        # the covariates alone, fitted on the training part: the yardstick of genomic accuracy
        fe = TargetTransform.fit(y_tr, c_tr, "regression")
        fixed_te = np.column_stack(
            [
                _fixed(_trait_design(c_te, c_te_trait, j), fe.coef[j], len(ids_te))
                for j in range(y_tr.shape[1])
            ]
        )
        if baselines:
            preds[FIXED_NAME] = fixed_te
    elif targets.use_covariates and baselines:
        # a binary trait: the covariates alone as a linear probability model (least squares
        # of the 0/1 trait on [1, C], as the baselines fit them), scored by AUC beside the
        # models: what the covariates contribute to the baselines' AUC (the CNN uses none)
        preds[FIXED_NAME] = np.column_stack(
            [
                _fixed(_trait_design(c_te, c_te_trait, j), _ols(c_tr[ok], y_tr[ok, j]), len(ids_te))
                for j in range(y_tr.shape[1])
                for ok in [~np.isnan(y_tr[:, j])]
            ]
        )

    n_tr = {t: int(np.sum(~np.isnan(y_tr[:, j]))) for j, t in enumerate(targets.traits)}
    for name, p in preds.items():
        for j, t in enumerate(targets.traits):
            ok = ~np.isnan(y_te[:, j])
            out["predictions"].extend(
                {
                    "sample_id": sid,
                    "repeat": r,
                    "fold": f,
                    "trait": t,
                    "model": name,
                    "observed": float(obs),
                    "predicted": float(pr),
                }
                for sid, obs, pr in zip(ids_te[ok], y_te[ok, j], p[ok, j])
            )
            if ok.sum() < MIN_TEST_FOLD:
                # not silently: the prediction is kept, the fold is not scored, and a note says
                # so (since session 46 also where 2 values are left: a trait observed on few
                # samples of a multi-trait or CV2 fit scored +-1 there; a checking helper)
                note = (
                    f"repeat {r} fold {f}: only {int(ok.sum())} test sample(s) with a value of "
                    f"'{t}'; the fold is not scored for '{t}' ({TINY_FOLD_WHY}), its "
                    "predictions are kept in predictions.csv"
                )
                if note not in out["notes"]:
                    out["notes"].append(note)
                continue
            vals, status = _score(targets.head, y_te[ok, j], p[ok, j])
            for metric, value in vals.items():
                out["metrics"].append(
                    {
                        "repeat": r,
                        "fold": f,
                        "model": name,
                        "trait": t,
                        "metric": metric,
                        "value": value,
                        "status": status,
                        "n_train": n_tr[t],
                        "n_test": int(ok.sum()),
                    }
                )
            if fixed_te is not None and name != FIXED_NAME:
                g_r = genomic_r(y_te[ok, j], p[ok, j], fixed_te[ok, j])
                resid = y_te[ok, j] - fixed_te[ok, j]
                if np.std(resid) <= GENOMIC_RTOL * np.std(y_te[ok, j]):
                    note = (
                        f"repeat {r} fold {f}: the covariates alone predict '{t}' exactly "
                        "(nothing is left for the genotypes; genomic r undefined): is a "
                        "covariate the trait itself, or computed from it?"
                    )
                    if note not in out["notes"]:
                        out["notes"].append(note)
                out["metrics"].append(
                    {
                        "repeat": r,
                        "fold": f,
                        "model": name,
                        "trait": t,
                        "metric": GENOMIC_METRIC,
                        "value": g_r,
                        "status": genomic_status(status, g_r),
                        "n_train": n_tr[t],
                        "n_test": int(ok.sum()),
                    }
                )
            if status == "collapsed":
                out["notes"].append(
                    f"repeat {r} fold {f}: {name} predicted a constant for '{t}' "
                    "(correlation undefined; counted as a loss)"
                )
            elif status == "undefined":
                note = _undefined_fold_note(targets, t, y_te[ok, j], r, f)
                if note not in out["notes"]:
                    out["notes"].append(note)
    return out


def _unseen_level_notes(targets: Targets, ids_tr, ids_te, r: int, f: int) -> list[str]:
    """A note per categorical covariate whose test samples have a level the training part
    lacks (they get the training average of its levels, as in predict)."""
    if not targets.use_covariates:
        return []
    ph = targets.phenotypes
    notes = []
    for cov in ph.covariates:
        if cov not in ph.categorical:
            notes.extend(_constant_covariate_note(ph, cov, ids_tr, ids_te, r, f))
            continue
        seen = {str(v) for v in ph.table.loc[list(ids_tr), cov]}
        test = np.asarray([str(v) for v in ph.table.loc[list(ids_te), cov]], dtype=object)
        new = ~np.isin(test, list(seen))
        if new.any():
            shown = ", ".join(sorted(set(test[new]))[:3])
            notes.append(
                f"repeat {r} fold {f}: covariate '{cov}': {int(new.sum())} test sample(s) have "
                f"a level the training part lacks ({shown}); they get the training average "
                "of its levels"
            )
    return notes


def _trait_test_designs(targets: Targets, ids_tr, c_tr, c_te, y_tr) -> list | None:
    """Per trait, the test fold's covariate design for that trait, where the trait's
    training lines (those with a value of it) lack a level of a categorical covariate that
    other training lines have (several traits with missing cells); None where no trait
    needs one (one trait, no covariates, or every training line has every trait).

    The shared design codes the levels of all training lines, so such a level's column is
    all zeros among the trait's lines and its effect for the trait is not estimable: its
    test samples got the reference level's effect (0). Here they get, like a level no
    training line has, the trait's training lines' mean of the covariate's columns: the
    training average of its levels (a checking helper, session 37). The same where the
    trait's lines lack the reference level (every other level's columns then sum to one)."""
    if c_te is None or c_tr is None or y_tr.ndim != 2 or y_tr.shape[1] < 2:
        return None
    observed = ~np.isnan(y_tr)
    if observed.all():
        return None
    ph = targets.phenotypes
    names = ph.covariate_matrix(list(ids_tr[:1]), fit_levels=list(ids_tr))[1]
    blocks = [
        [k for k, name in enumerate(names) if name.startswith(f"{cov}[")]
        for cov in ph.covariates
        if cov in ph.categorical
    ]
    blocks = [b for b in blocks if b]
    if not blocks:
        return None
    designs: list = []
    for j in range(y_tr.shape[1]):
        ok = observed[:, j]
        if ok.all() or not ok.any():
            designs.append(None)
            continue
        cj = None
        for cols in blocks:
            train = c_tr[ok][:, cols]
            test = c_te[:, cols]
            seen = (train == 1).any(axis=0)
            ref_seen = bool((train.sum(axis=1) == 0).any())
            one_hot = np.isin(test, (0.0, 1.0)).all(axis=1) & (test.sum(axis=1) <= 1)
            level_seen = np.where(test.sum(axis=1) == 0, ref_seen, seen[np.argmax(test, axis=1)])
            replace = ~(one_hot & level_seen)
            if replace.any():
                if cj is None:
                    cj = c_te.copy()
                cj[np.ix_(replace, cols)] = train.mean(axis=0)
        designs.append(cj)
    return designs if any(d is not None for d in designs) else None


def _trait_level_notes(targets: Targets, ids_tr, ids_te, y_tr, y_te, r: int, f: int) -> list:
    """Several traits with missing cells: a note per trait and categorical covariate whose
    scored test samples have a level that other training lines have but none with the
    trait (:func:`_trait_test_designs`: they get the trait's training average)."""
    if not targets.use_covariates or y_tr.ndim != 2 or y_tr.shape[1] < 2:
        return []
    ph = targets.phenotypes
    notes = []
    for cov in ph.covariates:
        if cov not in ph.categorical:
            continue
        tr = np.asarray([str(v) for v in ph.table.loc[list(ids_tr), cov]], dtype=object)
        te = np.asarray([str(v) for v in ph.table.loc[list(ids_te), cov]], dtype=object)
        for j, trait in enumerate(targets.traits):
            ok_tr, ok_te = ~np.isnan(y_tr[:, j]), ~np.isnan(y_te[:, j])
            if ok_tr.all():
                continue
            new = ok_te & np.isin(te, tr) & ~np.isin(te, tr[ok_tr])
            if new.any():
                shown = ", ".join(sorted(set(te[new]))[:3])
                notes.append(
                    f"repeat {r} fold {f}: covariate '{cov}': {int(new.sum())} test sample(s) "
                    f"of '{trait}' have a level that no training line with '{trait}' has "
                    f"({shown}); for '{trait}' they get the training average of its levels"
                )
    return notes


def _trait_design(c_te, designs: list | None, j: int):
    """Trait ``j``'s test design (:func:`_trait_test_designs`), else the shared one."""
    if designs is None or designs[j] is None:
        return c_te
    return designs[j]


def _per_trait(predict, c_te, designs: list | None) -> np.ndarray:
    """``predict(c)`` (all traits' columns) on the shared design, with each trait's column
    taken from ``predict`` on that trait's own test design where it has one."""
    out = np.array(predict(c_te), dtype=np.float64, copy=True)
    if designs is not None:
        for j, d in enumerate(designs):
            if d is not None:
                out[:, j] = np.asarray(predict(d))[:, j]
    return out


def _constant_covariate_note(ph, cov: str, ids_tr, ids_te, r: int, f: int) -> list[str]:
    """A note where a numeric covariate takes one value in the training part but others in
    the test fold: its effect cannot be estimated there (it is the intercept's), so it is
    0 and those test samples get no adjustment for it."""
    tr = pd.to_numeric(ph.table.loc[list(ids_tr), cov], errors="coerce").to_numpy(float)
    te = pd.to_numeric(ph.table.loc[list(ids_te), cov], errors="coerce").to_numpy(float)
    tr, te = tr[np.isfinite(tr)], te[np.isfinite(te)]
    if len(tr) == 0 or np.ptp(tr) > 0:
        return []
    other = int(np.sum(te != tr[0]))
    if not other:
        return []
    return [
        f"repeat {r} fold {f}: covariate '{cov}' is {tr[0]:g} in every training sample, so "
        f"its effect cannot be estimated there and is taken as 0; {other} test sample(s) "
        "with other values get no adjustment for it"
    ]


def _covariates(targets: Targets, fit_ids: np.ndarray, other_ids: np.ndarray | None = None):
    """Covariate design matrices with the encoding (categorical levels) fitted on ``fit_ids``."""
    if not targets.use_covariates:
        return None, None
    ph = targets.phenotypes
    c_fit, _ = ph.covariate_matrix(fit_ids, fit_levels=fit_ids)
    c_other = None
    if other_ids is not None:
        c_other, _ = ph.covariate_matrix(other_ids, fit_levels=fit_ids)
        c_other = np.asarray(c_other, dtype=np.float64)
    return np.asarray(c_fit, dtype=np.float64), c_other


def refit_start_note(histories: list[dict], config: dict, n_samples: int) -> str | None:
    """A note where the saved model (the refit on all samples) started at a start that no
    cross-validation fit used: e.g. more observed cells than the multi-trait start takes
    (``EXACT_MAX_CELLS``) on all lines while every training part stayed under it.  The
    cross-validated accuracy is then that of another model than the one saved."""
    from snpcnn.training import START_LABELS

    refit = config.get("refit_start")
    kinds = [h["conv"].get("start") or "ridge" for h in histories if h.get("conv")]
    used = [START_LABELS.get(k, k) for k in kinds]
    if refit is None or not used or refit in used:
        return None
    counts = pd.Series(used).value_counts()
    folds = " and ".join(f"{label} in {k}" for label, k in counts.items())
    why = config.get("refit_start_skipped")
    why = f" ({why})" if why else ""
    return (
        f"the saved model (model.keras, refitted on all {n_samples:,} samples) starts at "
        f"{refit}{why}, while the cross-validation fits started at {folds} of {len(used)}: "
        "the cross-validated accuracy describes models with those starts, and the saved "
        "model's may differ"
    )


BOUNDARY_CORRELATION = 0.999


def boundary_correlation_note(
    histories: list[dict], config: dict, traits: list, baseline: list[dict] | None = None
) -> str | None:
    """A note where a multi-trait start (MT-GBLUP, MT-CNN-GP) put two traits' genetic
    correlation on its boundary (|r| >= 0.999, common on small data: ML often lands there).
    Its genetic values for the two are then the same up to scale, so the CNN's predictions
    for them nearly coincide and explain ranks the SNPs alike for both; nothing said so
    (on mice BMI and body length the two outputs correlated 0.99999991; session 43)."""
    if len(traits) < 2:
        return None
    fits = [
        (h["conv"].get("start_choice") or {}).get("genetic_correlations")
        for h in histories
        if h.get("conv") and h["conv"].get("start") in ("mtgblup", "mt_cnn_gp")
    ]
    refit = config.get("refit_genetic_correlations")

    def at_boundary(corr) -> set[tuple[int, int]]:
        if corr is None:
            return set()
        r = np.abs(np.asarray(corr, dtype=np.float64))
        i, j = np.nonzero(np.triu(r >= BOUNDARY_CORRELATION, 1))
        return {(int(a), int(b)) for a, b in zip(i, j)}

    in_folds = [at_boundary(c) for c in fits]
    in_refit = at_boundary(refit)
    in_baseline = [at_boundary(b.get("genetic_correlations")) for b in baseline or []]
    hit = sorted(set().union(in_refit, *in_folds, *in_baseline))
    if not hit:
        return None
    names = "; ".join(f"{traits[i]} and {traits[j]}" for i, j in hit[:3])
    more = f" (and {len(hit) - 3} more pairs)" if len(hit) > 3 else ""
    where = []
    n_folds = sum(bool(f) for f in in_folds)
    if n_folds:
        where.append(f"{n_folds} of {len(fits)} fold(s)")
    if in_refit:
        where.append("the refit (model.keras)")
    n_base = sum(bool(b) for b in in_baseline)
    start = bool(n_folds or in_refit)
    if n_base:
        base = f"{n_base} of {len(in_baseline)} fold(s)"
        where.append(f"the {MT_LABEL} baseline in {base}" if start else base)
    who = "the multi-trait start" if start else f"the {MT_LABEL} baseline"
    return (
        f"{who} estimated a genetic correlation of 1 (the boundary) for "
        f"{names}{more} in {' and '.join(where)}: its genetic values for them are the same up "
        "to scale, so their predictions nearly coincide"
        + (" and explain ranks the SNPs alike for both" if start else "")
        + "; fit each trait on its own (one --trait at a time) to see them apart"
    )


def _refit(genotypes, targets, pre_settings, train_cfg, epochs, lr, seed, progress, config):
    from snpcnn.bundle import ModelBundle, id_hashes

    rows = targets.geno_index
    y = targets.y
    c, _ = _covariates(targets, targets.sample_ids)
    cov_names = (
        targets.phenotypes.covariate_matrix(targets.sample_ids, fit_levels=targets.sample_ids)[1]
        if targets.use_covariates
        else []
    )
    if targets.use_covariates:
        # the training levels of categorical covariates: predict/explain encode new samples'
        # covariates exactly as here (ModelBundle.covariate_design)
        ph = targets.phenotypes
        config["covariate_levels"] = {
            cov: sorted({str(v) for v in ph.table.loc[targets.sample_ids, cov] if not pd.isna(v)})
            for cov in ph.covariates
            if cov in ph.categorical
        }
    from snpcnn.io.table import table_coding

    coding = table_coding(genotypes)
    if coding is not None:  # predict and explain read a new table as this one was read
        config["genotype_coding"] = coding
    pre = _fit_preprocessor(genotypes, pre_settings, rows, y, c)
    x = _encode(pre, genotypes, rows)
    head = cnn_head(targets.head, train_cfg.model, train_cfg.linear_init)
    tt = _target_transform(y, c, head, x, train_cfg)
    z = tt.forward(y, c).astype(np.float32)
    cfg = TrainConfig(**{**train_cfg.__dict__, "learning_rate": lr, "collapse_retry": False})
    res = train_cnn(
        x,
        z,
        cfg,
        head=head,
        seed=_fold_seed(seed, 10**6, 0),
        on_epoch=(lambda: progress("epoch")) if progress else None,
        fixed_epochs=epochs,
        start_alpha=tt.alphas,
        on_event=progress,
    )
    if progress:
        progress("refit_done")
    if res.conv:  # what the saved model predicts: its start, and whether its correction was kept
        from snpcnn.training import START_LABELS

        kind = res.conv.get("start") or "ridge"
        config["refit_start"] = START_LABELS.get(kind, kind)
        skipped = (res.conv.get("start_choice") or {}).get("skipped")
        if skipped:
            config["refit_start_skipped"] = skipped
        kept = res.conv.get("kept")
        config["refit_conv_kept"] = bool(any(kept) if isinstance(kept, list) else kept)
        if res.conv.get("backfit") is not None:  # [linear] backfit: the start refitted
            config["refit_backfit"] = bool(res.conv["backfit"].get("adopted"))
        corr = (res.conv.get("start_choice") or {}).get("genetic_correlations")
        if corr is not None and res.conv.get("start") in ("mtgblup", "mt_cnn_gp"):
            config["refit_genetic_correlations"] = corr
    return ModelBundle(
        model=res.model,
        preprocessor=pre,
        traits=list(targets.traits),
        head=head,
        target_coef=[np.asarray(cf) for cf in tt.coef],
        target_sd=np.asarray(tt.sd),
        covariate_columns=list(cov_names),
        covariate_means=(
            np.zeros(0) if c is None else np.asarray(np.mean(c, axis=0), dtype=np.float64)
        ),
        binary_levels=targets.binary_levels,
        config=dict(config),
        training_id_hashes=id_hashes(targets.sample_ids),
    )


def _out_of_memory(exc: BaseException) -> str:
    """A MemoryError in words (Python's own carries no message: "out of memory ()")."""
    return f"out of memory ({exc})" if str(exc) else "out of memory"
