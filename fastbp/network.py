"""The Python network API: build, train, evaluate, save and load feed-forward networks.

``Network`` owns the parameters as NumPy arrays; every numeric loop (the forward pass,
BP1–BP4 and the SGD updates) runs in the compiled ``fastbp._backprop`` engine.
``fit`` and ``partial_fit`` check their options and hand over to the training driver,
``fastbp._training.train``, which keeps the loop between the epochs.
"""
import copy
import threading

import numpy as np

from . import _io, _training, _validation as check
from ._backprop import Engine, OptimizerState, all_finite
from ._tables import ACTIVATIONS, COST_OUTPUTS, COSTS, HIDDEN_ACTIVATIONS
from ._state import TrainingState

INITS = ("normal", "scaled_normal", "xavier", "he")

class Network:
    """A fully connected feed-forward network trained by backpropagation.

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, input first: ``[784, 30, 10]`` has 784 inputs, one hidden
        layer of 30 and 10 outputs.
    activation : {"sigmoid", "tanh", "relu", "identity"}
        σ of the hidden layers.
    output_activation : {"sigmoid", "tanh", "relu", "identity", "softmax", "exp"} or None
        σ of the output layer. None means ``activation``, except with
        ``cost="log_likelihood"``, where it means "softmax".
    cost : {"quadratic", "cross_entropy", "log_likelihood", "poisson"}
        Per-example cost C_x; the network minimises the mean over examples.
        "cross_entropy" needs a sigmoid output, "log_likelihood" a softmax output,
        "poisson" (half the Poisson deviance, Σ_j y_j ln(y_j/a_j) - y_j + a_j, for
        count targets y >= 0) an exp output.
    init : {"scaled_normal", "normal", "xavier", "he"}
        "normal": weights and biases from N(0, 1) (the book's network.py);
        "scaled_normal": weights from N(0, 1/n_{l-1}), biases from N(0, 1)
        (network2.py); "xavier": weights from U(±sqrt(6/(n_{l-1}+n_l))), zero biases;
        "he": weights from N(0, 2/n_{l-1}), zero biases.
    dtype : {"float64", "float32"}
        Dtype of the parameters and of every computation.
    seed : int or None
        Seeds the initial parameters and, unless ``fit`` gets a seed of its own,
        the shuffling of the training data.

    Attributes
    ----------
    weights : list of ndarray
        w^l of shape (n_l, n_{l-1}) for l = 1..L: the live parameters.
    biases : list of ndarray
        b^l of shape (n_l,) for l = 1..L.
    history : dict of lists
        Per-epoch records of the last ``fit`` (see ``fit``).
    """

    def __init__(self, sizes, activation="sigmoid", output_activation=None,
                 cost="quadratic", init="scaled_normal", dtype="float64", seed=None):
        self._configure(sizes, activation, output_activation, cost, init, dtype, seed)
        weights, biases = _initial_parameters(self._sizes, self._init,
                                              self._train_state.rng,
                                              self._dtype)
        self._weights = _ParameterList(self, "weights", weights)
        self._biases = _ParameterList(self, "biases", biases)

    @classmethod
    def _with_parameters(cls, weights, biases, sizes, activation, output_activation,
                         cost, init, dtype):
        """A network of the given configuration holding ``weights`` and ``biases``
        (checked), without drawing initial parameters."""
        net = cls.__new__(cls)
        net._configure(sizes, activation, output_activation, cost, init, dtype, 0)
        net._check_parameters(weights, biases, "weights")
        net._weights = _ParameterList(net, "weights", weights)
        net._biases = _ParameterList(net, "biases", biases)
        return net

    def _configure(self, sizes, activation, output_activation, cost, init, dtype, seed):
        """Check and set everything but the parameters (see the class docstring)."""
        self._sizes = check.check_sizes(sizes)
        hidden = check.check_choice(activation, "activation", HIDDEN_ACTIVATIONS)
        self._cost = check.check_choice(cost, "cost", COSTS)
        if output_activation is None:
            output_activation = "softmax" if cost == "log_likelihood" else hidden
        output = check.check_choice(output_activation, "output_activation", ACTIVATIONS)
        if output not in COST_OUTPUTS[cost]:
            raise ValueError(
                f"cost={cost!r} needs output_activation in "
                f"{sorted(COST_OUTPUTS[cost])}, got {output!r}")
        self._activation, self._output_activation = hidden, output
        self._init = check.check_choice(init, "init", INITS)
        self._dtype = check.check_dtype(dtype)
        if isinstance(seed, (bool, np.bool_)):
            raise TypeError("seed must be None or a non-negative integer, got a bool")
        try:
            rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"seed must be None or a non-negative integer: {exc}") from None
        self._engine_cache = None
        self._train_state = TrainingState(rng)
        self.history = {}

    # -- properties ---------------------------------------------------------------

    sizes = property(lambda self: list(self._sizes), doc="Neurons per layer, input first.")
    activation = property(lambda self: self._activation, doc="σ of the hidden layers.")
    output_activation = property(lambda self: self._output_activation,
                                 doc="σ of the output layer.")
    cost = property(lambda self: self._cost, doc="Name of the cost function.")
    init = property(lambda self: self._init, doc="Name of the initialisation scheme.")
    dtype = property(lambda self: self._dtype, doc="Dtype of parameters and computations.")

    @property
    def weights(self):
        """w^l of shape (n_l, n_{l-1}) for l = 1..L (the live list).

        Arrays assigned here (``net.weights = [...]`` or ``net.weights[i] = w``) are
        checked as they are assigned and become the live parameters as they are;
        the list keeps one array per layer. fastbp's own start on 64-byte
        boundaries, which makes inference and training ~15-25 % faster than on
        NumPy's usual large-array placement; to keep that, copy new values into
        them (``net.weights[0][...] = w``) instead of assigning arrays. Assigning is
        refused (RuntimeError) while ``fit`` runs, its callback included.
        """
        return self._weights

    @weights.setter
    def weights(self, value):
        self._assign_parameters(value, None)

    @property
    def biases(self):
        """b^l of shape (n_l,) for l = 1..L (the live list; see ``weights``)."""
        return self._biases

    @biases.setter
    def biases(self, value):
        self._assign_parameters(None, value)

    def __repr__(self):
        return (f"Network(sizes={self.sizes}, activation={self._activation!r}, "
                f"output_activation={self._output_activation!r}, cost={self._cost!r}, "
                f"dtype={self._dtype.name!r})")

    # -- computation --------------------------------------------------------------

    def feedforward(self, X):
        """Return a^L, the network's output.

        Parameters
        ----------
        X : array_like of shape (m, n_0) or (n_0,), or scipy.sparse (m, n_0)
            Examples as rows, or a single example.

        Returns
        -------
        ndarray of shape (m, n_L), or (n_L,) for a single example.

        Raises
        ------
        ValueError
            For X that does not fit, holds NaN or inf, or whose output would hold
            NaN or inf (a parameter set to NaN or inf in place, or an overflow): a
            non-finite output is never handed back as an answer.
        """
        # A reader: training waits for it to finish (TrainingState's steps, inline).
        state = self._train_state
        state.readers.append(None)
        try:
            if state.trainer is not None:
                state.check_reader()
            engine = self._engine()
            # Input already in the engine's layout is checked and run in one compiled
            # call: single-example latency is a design goal.
            out = engine.feedforward_ready(X)
            if out is None:
                X, single = check.check_features(X, "X", self._sizes[0], self._dtype,
                                                 allow_1d=True)
                out = np.empty((1 if single else X.shape[0], self._sizes[-1]),
                               dtype=self._dtype)
                engine.feedforward(X, out)
                if single:
                    out = out[0]
        except MemoryError as exc:
            raise check.too_large("X", exc) from None
        finally:
            state.readers.pop()
            if state.trainer is not None:
                state.reader_left()
        if not all_finite(out):  # X is finite: NaN or inf here is no answer
            self._refuse_non_finite_output(engine)
        return out

    def backprop(self, X, Y, sample_weight=None):
        """Return ``(nabla_b, nabla_w)``, the gradient of the mean cost over the rows of X.

        Parameters
        ----------
        X : array_like of shape (m, n_0)
        Y : array_like of shape (m, n_L), or integer class labels of shape (m,)
        sample_weight : array_like of shape (m,), optional
            Non-negative weights: the cost becomes the weighted mean
            Σ_x s_x C_x / Σ_x s_x.

        Returns
        -------
        nabla_b : list of ndarray, shaped like ``biases``: ∂C/∂b^l.
        nabla_w : list of ndarray, shaped like ``weights``: ∂C/∂w^l.
        """
        X, Y = self._check_data(X, Y)
        S = check.check_sample_weight(sample_weight, X.shape[0], self._dtype)
        with self._train_state.reading():
            engine = self._engine()
            _training.check_finite_parameters(engine)
            # Shaped like the engine's arrays, not the list's, which another thread
            # may change meanwhile.
            nabla_w = [np.empty_like(w) for w in engine.weights]
            nabla_b = [np.empty_like(b) for b in engine.biases]
            total_weight = X.shape[0] if S is None else float(S.sum(dtype=np.float64))
            engine.gradient(X, Y, S, 1.0 / total_weight, nabla_w, nabla_b)
        return nabla_b, nabla_w

    def total_cost(self, X, Y, l2=0.0):
        """Return the mean cost C = (1/m) Σ_x C_x over the rows of X (m, n_0).

        Y is an (m, n_L) target array or integer class labels (m,). With ``l2`` = λ,
        adds the book's regularisation term (λ/2m) Σ_l ‖w^l‖², with m = len(X).
        """
        X, Y = self._check_data(X, Y)
        l2 = check.non_negative(l2, "l2")
        cost = _training.mean_cost(self._cost, self._forward_checked(X), Y)
        if l2:
            cost += _training.l2_term(self._weights, l2, X.shape[0])
        return cost

    def predict(self, X):
        """Return the class index argmax_j a^L_j of each row of X (or of one example)."""
        return np.argmax(self.feedforward(X), axis=-1)

    def evaluate(self, X, y):
        """Return the accuracy in [0, 1] on examples X (m, n_0) with labels y (m,).

        y may also be an (m, n_L) array of one-hot targets.
        """
        X, _ = check.check_features(X, "X", self._sizes[0], self._dtype)
        labels = self._check_labels(y, X.shape[0])
        A = self._forward_checked(X)
        if not all_finite(A):
            self._refuse_non_finite_output()
        return float(np.mean(A.argmax(axis=1) == labels))

    def fit(self, X, y, epochs, batch_size, learning_rate, validation_data=None,
            shuffle=True, seed=None, *, l2=0.0, optimizer="sgd", momentum=0.0,
            nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8, schedule="constant",
            power_t=0.5, early_stopping=False, n_iter_no_change=10, tol=1e-4,
            validation_fraction=0.1, dropout=0.0, sample_weight=None,
            monitor_training=False, callback=None):
        """Train by mini-batch gradient descent, continuing from the current parameters.

        Each step takes m = ``batch_size`` examples. Plain SGD updates
        w^l ← (1 - ηλ/n) w^l - (η/m) Σ_x ∂C_x/∂w^l and b^l ← b^l - (η/m) Σ_x ∂C_x/∂b^l,
        λ = ``l2`` and n = len(X). Each epoch is one call into the compiled engine, with
        the GIL released; nothing is allocated per step.

        Parameters
        ----------
        X : array_like of shape (n, n_0), or scipy.sparse (n, n_0)
            A sparse X (CSR; CSC and other formats are converted to CSR once) is never
            densified: the first layer reads each mini-batch's stored values.
        y : array_like of shape (n,) with integer labels in [0, n_L), or (n, n_L) targets
        epochs : int >= 1
        batch_size : int >= 1
            Examples per step (the last step of an epoch takes what is left).
        learning_rate : float > 0
            η (the initial η under a schedule).
        validation_data : tuple (X_val, y_val) or None
            Evaluated after each epoch; y_val holds labels or targets like ``y``.
        shuffle : bool
            Visit the examples in a new random order every epoch.
        seed : int or None
            Seeds shuffling, dropout and the validation split; None continues the
            network's own random stream (seeded by ``Network(seed=...)``).
        l2 : float >= 0
            λ of the book's L2 regularisation: the cost gains (λ/2n) Σ_l ‖w^l‖².
            Biases are not decayed.
        optimizer : {"sgd", "adam"}
        momentum : float in [0, 1)
            With ``optimizer="sgd"``: v ← μ v - η g, w ← w + v.
        nesterov : bool
            Nesterov's momentum: w ← w + μ v - η g (after updating v).
        beta_1, beta_2, epsilon : float
            Adam's parameters.
        schedule : {"constant", "invscaling", "plateau"} or object
            "invscaling": η_t = η / (t + 1)^power_t, t the number of examples seen
            before the epoch (as scikit-learn). "plateau": the book's rule: halve η
            when the validation score has not improved for ``n_iter_no_change``
            epochs, and stop once it has fallen to η/128. An object with a method
            ``rate(run)`` gives each epoch's η itself (a finite float > 0), from
            ``run.epoch`` (1, 2, ... in this call), ``run.eta0`` (``learning_rate``),
            ``run.examples_seen``, ``run.history`` and ``run.net``; its optional
            ``epoch_end(run)`` is called after each epoch.
        power_t : float >= 0
        early_stopping : bool
            Stop when the validation score (accuracy for class labels, minus the
            cost for other targets) has not improved by more than ``tol`` for
            ``n_iter_no_change`` epochs, and restore the best parameters seen.
        n_iter_no_change : int >= 1
        tol : float >= 0
        validation_fraction : float in [0, 1)
            Held out of X for validation when early stopping or the plateau schedule
            needs validation data and none is given.
        dropout : float in [0, 1)
            Probability of dropping each hidden neuron in each training step
            (inverted dropout: inference needs no change).
        sample_weight : array_like of shape (n,), optional
            Non-negative example weights, normalised to mean 1 over X, so each
            step follows the weighted mean cost (fastbp.sklearn's estimators
            divide each batch by its own sum of weights instead, as scikit-learn).
        monitor_training : bool
            After each epoch, recompute the training cost over all of X and the
            training accuracy (costs one forward pass over X per epoch).
        callback : callable or None
            ``callback(net, epoch, history)`` after each epoch; returning True stops.

        Returns
        -------
        history : dict of lists, one entry per epoch
            "train_cost": the mean cost over the epoch, each example's cost taken
            just before its own step (or, with ``monitor_training``, recomputed
            after the epoch, with "train_accuracy"); "val_cost" and "val_accuracy"
            with validation data; "learning_rate". Costs include the L2 term. Also
            kept as ``self.history``.
        """
        options = _training.check_options(
            l2=l2, optimizer=optimizer,
            momentum=momentum, nesterov=nesterov, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, schedule=schedule, power_t=power_t,
            early_stopping=early_stopping, n_iter_no_change=n_iter_no_change, tol=tol,
            validation_fraction=validation_fraction, dropout=dropout,
            monitor_training=monitor_training, callback=callback)
        return _training.train(self, X, y, epochs, batch_size, learning_rate,
                               validation_data, shuffle, seed, sample_weight, options)

    def partial_fit(self, X, y, batch_size, learning_rate, *, shuffle=True, seed=None,
                    sample_weight=None, l2=0.0, optimizer="sgd", momentum=0.0,
                    nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                    dropout=0.0):
        """One pass over X (n, n_0) and y, for data that arrive in chunks.

        The same step as ``fit``; optimiser state (momentum, Adam's moments and step
        count) carries over from call to call, and each call appends one entry to
        ``self.history``. ``l2``'s n is the size of this chunk.
        """
        options = _training.check_options(
            l2=l2, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, dropout=dropout)
        return _training.train(self, X, y, 1, batch_size, learning_rate, None, shuffle,
                               seed, sample_weight, options, append=True)

    def compiled(self):
        """Return the compiled engine over the current parameters, for Cython code.

        ``fastbp._backprop.Engine`` exposes the C-level API declared in
        ``fastbp/_backprop.pxd`` (``feedforward_rows``, callable without the GIL).
        """
        return self._engine()

    # -- models in and out (fastbp/interop.py, fastbp/onnx.py) ---------------------

    @classmethod
    def from_sklearn(cls, estimator, *, dtype=None, cost=None):
        """A network computing a fitted scikit-learn (or fastbp.sklearn) MLP.

        ``feedforward(X)`` (m, n_out) equals the classifier's ``predict_proba(X)``
        (a binary one's single logistic unit becomes a 2-unit softmax) or the
        regressor's ``predict(X)`` as (m, n_outputs). See ``fastbp.interop.from_sklearn``.
        """
        from . import interop
        return interop.from_sklearn(estimator, dtype=dtype, cost=cost, network_class=cls)

    @classmethod
    def from_torch(cls, module, *, dtype=None, cost=None):
        """A network computing a torch ``nn.Sequential`` of Linear layers and activations.

        ``feedforward(X)`` (m, in_features) equals ``module(X)`` (m, out_features).
        Other layers (Conv, BatchNorm, Dropout in train mode, ...) raise ValueError
        naming the layer. See ``fastbp.interop.from_torch``.
        """
        from . import interop
        return interop.from_torch(module, dtype=dtype, cost=cost, network_class=cls)

    @classmethod
    def from_onnx(cls, model, *, dtype=None, cost=None, output=None,
                  external_data=False):
        """A network read from an ONNX MLP graph (a ModelProto, bytes or a path).

        Reads graphs written by ``fastbp.onnx.to_onnx``, ``torch.onnx.export`` of
        ``nn.Sequential(Linear, act, ...)`` and skl2onnx's MLPs; any other node op
        raises ValueError naming it, and so does a malformed model. A model given as
        a ModelProto or bytes never reads a file; one given by path reads tensors kept
        in external files only with ``external_data=True``, and only from inside its
        own folder. Needs the ``onnx`` package (``pip install onnx``). See ``fastbp.onnx.from_onnx``.
        """
        from . import onnx as _onnx
        return _onnx.from_onnx(model, dtype=dtype, cost=cost, output=output,
                               external_data=external_data, network_class=cls)

    def to_onnx(self, path=None, **options):
        """This network as an ``onnx.ModelProto`` (also saved to ``path`` if given).

        ``path`` is written atomically, as ``save`` writes; special targets (a FIFO,
        a directory) and graph names that collide are refused with ValueError. See
        ``fastbp.onnx.to_onnx`` for the graph and the options.
        """
        from . import onnx as _onnx
        return _onnx.to_onnx(self, path, **options)

    # -- persistence --------------------------------------------------------------

    def save(self, path):
        """Write the architecture and parameters to ``path`` (a .npz file, no pickle).

        The file is written to a temporary name and renamed into place, so an
        interrupted save never leaves a half-written file at ``path``. A symbolic
        link is followed (its target is replaced); a ``path`` that exists and is not
        a regular file (a directory, FIFO or device) is refused with ValueError. An
        existing file keeps its permissions; a new one gets those the umask allows.
        """
        path = _io.as_path(path)
        _io.writable_target(path)  # refused before the parameters are looked at
        config = {"sizes": list(self._sizes), "activation": self._activation,
                  "output_activation": self._output_activation, "cost": self._cost,
                  "init": self._init, "dtype": self._dtype.name}
        # Fit cannot start while the file is written, and another thread's fit
        # refuses the save: the file holds whole steps.
        with self._snapshot_guard("saved"):
            weights, biases = tuple(self._weights), tuple(self._biases)
            self._check_parameters(weights, biases, "weights")
            _io.write_network(path, config, weights, biases)

    # -- internals ----------------------------------------------------------------

    def _engine(self):
        """The compiled engine over the current parameter arrays (rebuilt if replaced).

        Refuses use from another thread while ``fit`` runs: the engine updates the
        parameters in place without the GIL, so a concurrent reader would see a
        half-applied step.
        """
        trainer = self._train_state.trainer
        if trainer is not None and trainer != threading.get_ident():
            raise RuntimeError("this network is being trained in another thread; use "
                               "it once fit returns, or predict with a copy taken "
                               "before fit or in its callback (copy.deepcopy(net))")
        # One snapshot of the parameter lists is compared, checked and built from:
        # the lists may change in another thread meanwhile, and the engine must
        # never hold an array that was not checked.
        weights, biases = tuple(self._weights), tuple(self._biases)
        engine = self._engine_cache
        if engine is None or not engine.matches(weights, biases):
            self._check_parameters(weights, biases, "weights")
            engine = Engine(weights, biases, self._activation,
                            self._output_activation, self._cost)
            self._engine_cache = engine
        return engine

    def _assign_parameters(self, weights, biases, index=None):
        """Check and install new parameter arrays: a whole list (``weights`` or
        ``biases``, the other None) or, with ``index`` = (kind, i, array), one array.

        Refused while the network trains, from any thread (fit's callback too): the
        engine updates the arrays it started with, so training would go on in
        arrays the network no longer holds.
        """
        with self._train_state.replacing():
            if index is not None:
                kind, i, value = index  # i an index or a slice into the live list
                live = self._weights if kind == "weights" else self._biases
                new = list(live)
                new[i] = value
                if len(new) != len(live):
                    raise ValueError(f"{kind}: the network has one array per layer; a "
                                     f"slice assignment may not change the list's length")
                self._check_parameters(*((new, self._biases) if kind == "weights"
                                         else (self._weights, new)), kind)
                list.__setitem__(live, i, value)
                return
            new_w = list(self._weights) if weights is None else _as_list(weights, "weights")
            new_b = list(self._biases) if biases is None else _as_list(biases, "biases")
            self._check_parameters(new_w, new_b,
                                   "weights" if weights is not None else "biases")
            if weights is not None:
                self._weights = _ParameterList(self, "weights", new_w)
            if biases is not None:
                self._biases = _ParameterList(self, "biases", new_b)

    @property
    def training_state(self):
        """The state training keeps between calls (``TrainingState``): the random
        stream, the optimiser state (``reset_optimizer()`` starts a new one), the
        examples seen, and the locks whose rules it states."""
        return self._train_state

    def _snapshot_guard(self, what):
        """A context that keeps fit from starting while a copy of the network is
        taken, and refuses the copy while another thread trains it."""
        return self._train_state.snapshot(what)

    def __getstate__(self):
        # An independent copy of everything that training changes, taken while fit
        # cannot start (pickle and copy.deepcopy copy the state only after this
        # returns). The engine (raw pointers) and the locks are rebuilt, not pickled;
        # the training state is kept under its earlier keys, which older pickles have.
        with self._snapshot_guard("copied or pickled"):
            state = self.__dict__.copy()
            for key in ("_engine_cache", "_train_state"):
                state.pop(key, None)
            state["_weights"] = [check.aligned(w) for w in self._weights]
            state["_biases"] = [check.aligned(b) for b in self._biases]
            training = self._train_state.copy()
            state["_rng"], state["_opt_state"] = training.rng, training.optimizer
            state["_examples_seen"] = training.examples_seen
            state["history"] = copy.deepcopy(self.history)
        return state

    def __setstate__(self, state):
        state = dict(state)
        for key in ("_train_lock", "_param_lock", "_trainer", "_snapshots"):
            state.pop(key, None)  # locks pickled by no version; dropped all the same
        rng, old = state.pop("_rng"), state.pop("_opt_state", None)
        seen = state.pop("_examples_seen", 0)
        self.__dict__.update(state)
        self._engine_cache = None
        self._weights = _ParameterList(self, "weights", state["_weights"])
        self._biases = _ParameterList(self, "biases", state["_biases"])
        if isinstance(old, dict):  # pickled before the optimiser state was one object
            old = OptimizerState(
                old["kind"], *(old.get(k, ()) for k in ("s1w", "s1b", "s2w", "s2b")),
                step=old["step"])
        self._train_state = TrainingState(rng, old, seen)

    def _check_parameters(self, weights, biases, name):
        """Refuse parameter lists the engine cannot use in place."""
        L = len(self._sizes) - 1
        if len(weights) != L or len(biases) != L:
            raise ValueError(f"{name}: the network has {L} layers of parameters, got "
                             f"{len(weights)} weight and {len(biases)} bias arrays")
        for l in range(1, L + 1):
            for kind, arr, shape in (("weights", weights[l - 1],
                                      (self._sizes[l], self._sizes[l - 1])),
                                     ("biases", biases[l - 1], (self._sizes[l],))):
                where = f"{kind}[{l - 1}]"
                if not isinstance(arr, np.ndarray):
                    raise TypeError(f"{where} must be a NumPy array, got {type(arr).__name__}")
                if arr.shape != shape:
                    raise ValueError(f"{where} must have shape {shape}, got {arr.shape}")
                if arr.dtype != self._dtype:
                    raise ValueError(f"{where} must have dtype {self._dtype}, got {arr.dtype}")
                if not (arr.flags.c_contiguous and arr.flags.writeable and arr.flags.aligned):
                    raise ValueError(f"{where} must be a C-contiguous, writeable, aligned "
                                     f"array (use np.ascontiguousarray(...).copy())")
                if not np.isfinite(arr).all():
                    raise ValueError(f"{where} contains NaN or infinite values")

    def _check_data(self, X, y, finite_X=True):
        X, _ = check.check_features(X, "X", self._sizes[0], self._dtype, finite=finite_X)
        Y = check.check_targets(y, "y", self._sizes[-1], X.shape[0], self._dtype)
        return X, Y

    def _check_labels(self, y, n_rows, name="y"):
        """Integer labels from labels (m,) or one-hot rows (m, n_L)."""
        arr = check.as_numeric_array(y, name)
        if arr.ndim == 2:
            arr = check.check_targets(arr, name, self._sizes[-1], n_rows, self._dtype)
            if not check.is_classification(None, arr):
                raise ValueError(f"{name}: 2-d targets must be one-hot rows (one 1, the "
                                 f"rest 0) to define classes; pass integer labels")
            return arr.argmax(axis=1)
        return check.check_labels(arr, name, self._sizes[-1], n_rows)

    def _forward_checked(self, X):
        """a^L for an X that has passed ``check_features``; parameters that are no
        longer finite (edited in place) raise ValueError instead of a wrong result."""
        with self._train_state.reading():
            return _training.forward(self._engine(), X, self._sizes[-1], self._dtype)

    def _refuse_non_finite_output(self, engine=None):
        """Raise ValueError for an output holding NaN or inf computed from finite X:
        naming the parameter edited in place to NaN or inf, or else the overflow."""
        self._check_finite_parameters(engine)
        raise ValueError(f"X: the output holds NaN or infinite values although X and "
                         f"the parameters are finite (a value overflowed "
                         f"{self._dtype.name}); scale X or the parameters down")

    def _check_finite_parameters(self, engine=None):
        """Raise ValueError naming the first parameter array holding NaN or inf
        (arrays edited in place are not checked when they change)."""
        _training.check_finite_parameters(self._engine() if engine is None else engine)


def load(path):
    """Read a network written by ``Network.save``.

    Only arrays and a JSON header are read (no pickle), so a hostile file cannot run
    code. Raises FileNotFoundError (also a ValueError) for a missing file and ValueError
    for anything that is not a valid fastbp network file, naming the file and the
    problem. Every array's declared shape and dtype are checked against the header
    before anything is allocated or decompressed.
    """
    return _io.read_network(_io.as_path(path), _build)


def _build(weights, biases, meta):
    return Network._with_parameters(
        weights, biases, meta["sizes"], meta["activation"], meta["output_activation"],
        meta["cost"], meta["init"], meta["dtype"])


def _as_list(value, name):
    if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of NumPy arrays, one per layer; got "
                        f"{type(value).__name__}")
    return list(value)


class _ParameterList(list):
    """``Network.weights`` / ``biases``: a list that checks every array put in it.

    One array per layer: operations that change the length are refused, and
    ``lst[i] = arr`` goes through ``Network._assign_parameters`` (checked, and
    refused while fit runs).
    """
    __slots__ = ("_net", "_kind")

    def __init__(self, net, kind, arrays):
        list.__init__(self, arrays)
        self._net, self._kind = net, kind

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            value = list(value)
        else:
            index = range(len(self))[index]  # IndexError/TypeError as a list gives them
        self._net._assign_parameters(None, None, (self._kind, index, value))

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"{self._kind} holds one array per layer: assign "
                        f"{self._kind}[i] = array instead of changing the list's length")

    __delitem__ = append = extend = insert = pop = remove = clear = _refuse
    sort = reverse = __iadd__ = __imul__ = _refuse

    def __reduce_ex__(self, protocol):
        return list, (list(self),)

    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        return copy.deepcopy(list(self), memo)


def _initial_parameters(sizes, init, rng, dtype):
    """Draw (weights, biases) for ``sizes`` by the scheme ``init`` (see ``Network``).

    Drawn in float64 and then cast, so float32 and float64 networks built with the same
    seed start from the same values, up to rounding.
    """
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if init == "normal":
            w = rng.standard_normal((n_out, n_in))
            b = rng.standard_normal(n_out)
        elif init == "scaled_normal":
            w = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
            b = rng.standard_normal(n_out)
        elif init == "xavier":
            limit = np.sqrt(6.0 / (n_in + n_out))
            w = rng.uniform(-limit, limit, (n_out, n_in))
            b = np.zeros(n_out)
        else:  # "he"
            w = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
            b = np.zeros(n_out)
        weights.append(check.aligned(w, dtype))
        biases.append(check.aligned(b, dtype))
    return weights, biases
