"""kgan's command line: one module per command, each with a `main()` (setup.py's console scripts).

    kgan-train     kgan_cli.train      train a GAN (python train.py in a clone)
    kgan-evaluate  kgan_cli.evaluate   score a run's samples
    kgan-export    kgan_cli.export     export a run's generator for serving
    kgan-client    kgan_cli.client     query an export (TF Serving REST or TFLite) for a PNG grid
    kgan-launch    kgan_cli.launch     local multi-worker training
    kgan-generate  kgan_cli.generate   a run's samples (PNG folder / .npz), truncation, interpolation GIFs

`kgan_cli.common` holds what they share. The package lives outside `kgan/` so
the library stays free of command-line policy; importing it imports nothing else.
"""
