"""`TensorBoard`: Keras's TensorBoard callback with both of a GAN's learning rates.

Keras's logs `model.optimizer`'s rate as `epoch_learning_rate`; a `kgan.GAN`
has two optimizers, and `model.optimizer` is the generator's. This one logs
`epoch_d_learning_rate` and `epoch_g_learning_rate` instead, so a rate change
(e.g. `DivergenceGuard`'s rollback halving both) shows for each network.
"""

import keras


def _rate(optimizer):
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's own optimizer
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class TensorBoard(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` logging `d_learning_rate` and `g_learning_rate` for a `kgan.GAN` (any other
    model: Keras's `learning_rate`). Takes Keras's arguments.

    Example:

    ```python
    gan.fit(ds, epochs=5, callbacks=[kgan.callbacks.TensorBoard("runs/me/tensorboard", write_graph=False)])
    ```
    """

    def _collect_learning_rate(self, logs):  # Keras's hook (keras/src/callbacks/tensorboard.py), called per epoch
        if getattr(self.model, "d_optimizer", None) is None or getattr(self.model, "g_optimizer", None) is None:
            return super()._collect_learning_rate(logs)
        logs = dict(logs or {})
        logs["d_learning_rate"] = _rate(self.model.d_optimizer)
        logs["g_learning_rate"] = _rate(self.model.g_optimizer)
        return logs
