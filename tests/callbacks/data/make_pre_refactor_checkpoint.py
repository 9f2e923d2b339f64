"""Writes tests/callbacks/data/pre_refactor_checkpoint with the kgan on PYTHONPATH.

Run once with the kgan from before `GAN.checkpoint_state` (commit 394e76a):
    PYTHONPATH=<that checkout> python tests/callbacks/data/make_pre_refactor_checkpoint.py tests/callbacks/data/pre_refactor_checkpoint
"""
import os, sys
import keras, numpy as np, tensorflow as tf
import kgan
from kgan import callbacks, features, nets

out = sys.argv[1]
keras.utils.set_random_seed(0)
G = features.self_conditioned(nets.cdcgan_generator(latent_dim=4, num_classes=3, filters=(2, 2, 2), embedding_dim=4), 3, prior=[0.2, 0.3, 0.5])
D = nets.cdcgan_discriminator(num_classes=3, filters=(2, 2), dropout=0.0)
gan = kgan.GAN(G, D, seed=1, ema_decay=0.9)
gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
rng = np.random.RandomState(0)
ds = tf.data.Dataset.from_tensor_slices((rng.uniform(-1, 1, (32, 28, 28, 1)).astype("float32"),
                                         rng.randint(0, 3, 32).astype("int32"))).batch(16)
gan.fit(ds, epochs=1, verbose=0, callbacks=[callbacks.Checkpoint(out)])
state = dict(generator=gan.generator.variables, discriminator=gan.discriminator.variables,
             d_optimizer=gan.d_optimizer.variables, g_optimizer=gan.g_optimizer.variables,
             noise_seed=[gan.noise_seed.state], ema_generator=gan.ema_generator.variables)
np.savez(os.path.join(out, "expected.npz"),
         **{f"{k}/{i}": v.numpy() for k, vs in state.items() for i, v in enumerate(vs)})
print(sorted(os.listdir(out)))
