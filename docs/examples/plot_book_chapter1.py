"""
The book's chapter 1 run, with its learning curve
=================================================

Nielsen's chapter 1 trains a [784, 30, 10] sigmoid network on MNIST with the quadratic
cost, mini-batches of 10 and a learning rate of 3.0, and reports about 95 % test
accuracy. Here is that run on fastbp (10 epochs, the weights scaled by
1/sqrt(n_in) as in the book's later chapters), with the validation accuracy of every
epoch.

The MNIST files are read from the folder in ``FASTBP_MNIST_DIR`` when it is set. Without
it, this page is built offline on the 8×8 digits that ship with fastbp instead: the same
recipe on a [64, 30, 10] network, 30 epochs (the digits are 1,797 images, so an epoch is
short), and the output below says which data it ran on.
"""
import os

import matplotlib.pyplot as plt

import fastbp
from fastbp.datasets import load_digits, load_mnist

directory = os.environ.get("FASTBP_MNIST_DIR")
if directory:
    train, validation, test = load_mnist(directory)
    sizes, epochs = [784, 30, 10], 10
    print(f"MNIST from FASTBP_MNIST_DIR: {len(train[0]):,} training images")
else:
    X, y = load_digits()
    train, validation, test = (X[:1200], y[:1200]), (X[1200:1500], y[1200:1500]), \
        (X[1500:], y[1500:])
    sizes, epochs = [64, 30, 10], 30
    print("FASTBP_MNIST_DIR is not set: the shipped 8x8 digits instead of MNIST "
          f"({len(train[0]):,} training images)")

net = fastbp.Network(sizes, seed=0)
history = net.fit(*train, epochs=epochs, batch_size=10, learning_rate=3.0,
                  validation_data=validation, seed=0)
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
