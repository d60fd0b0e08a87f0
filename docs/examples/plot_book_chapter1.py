"""
The book's chapter 1 run, with its learning curve
=================================================

Nielsen's chapter 1 trains a [784, 30, 10] sigmoid network on MNIST with the quadratic
cost, mini-batches of 10 and a learning rate of 3.0, and reports about 95 % test
accuracy. Here is that run on fastbp (10 epochs, the weights scaled by
1/sqrt(n_in) as in the book's later chapters), with the validation accuracy of every
epoch.

The MNIST files are read from the folder in ``FASTBP_MNIST_DIR`` if it is set, else
from ``~/.cache/fastbp/mnist``, where they are downloaded the first time.
"""
import os

import matplotlib.pyplot as plt

import fastbp
from fastbp.datasets import load_mnist

directory = os.environ.get("FASTBP_MNIST_DIR")
train, validation, test = load_mnist(directory, download=directory is None)

net = fastbp.Network([784, 30, 10], seed=0)
history = net.fit(*train, epochs=10, batch_size=10, learning_rate=3.0,
                  validation_data=validation)
print(f"test accuracy: {net.evaluate(*test):.2%}")

# %%
# The learning curve: validation accuracy and training cost after each epoch.
epochs = range(1, len(history["val_accuracy"]) + 1)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
left.plot(epochs, [100 * a for a in history["val_accuracy"]], marker="o")
left.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Accuracy")
right.plot(epochs, history["train_cost"], marker="o", color="C1")
right.set(xlabel="epoch", ylabel="training cost", title="Quadratic cost")
plt.show()
