"""PyTorch on the CPU: ``nn.Linear`` + ``nn.Sigmoid`` layers, ``optim.SGD`` and the
book's quadratic cost C = 1/(2m) sum ||y - a||^2 (0.5 * sum over outputs, mean over
the batch). Data are tensors made once; each step indexes its mini-batch."""
import numpy as np

from .base import Trainer


class TorchNN(Trainer):
    name = "torch"
    requires = ("torch",)

    def _setup(self, weights, biases):
        import torch
        self.torch = torch
        self.tdtype = getattr(torch, self.dtype.name)
        layers = []
        for w, b in zip(weights, biases):
            lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=self.tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers += [lin, torch.nn.Sigmoid()]
        self.model = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.learning_rate)

    def set_data(self, X, y):
        super().set_data(X, y)
        self.Xt = self.torch.from_numpy(self.X)
        self.Yt = self.torch.from_numpy(self.Y)

    def train_epoch(self, seed):
        perm, slices = self.epoch_batches(seed)
        perm_t = self.torch.from_numpy(perm)
        model, opt = self.model, self.optimizer
        for s in slices:
            idx = perm_t[s]
            xb, yb = self.Xt[idx], self.Yt[idx]
            loss = 0.5 * ((model(xb) - yb) ** 2).sum() / xb.shape[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def feedforward(self, X):
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(np.asarray(X, self.dtype))).numpy()

    def parameters(self):
        lins = [m for m in self.model if isinstance(m, self.torch.nn.Linear)]
        return ([m.weight.detach().numpy().copy() for m in lins],
                [m.bias.detach().numpy().copy() for m in lins])
