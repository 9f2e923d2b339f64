"""`python train.py --flagfile=flags/dcgan.cfg` in a clone: the kgan-train command (kgan_cli/train.py)."""
from kgan_cli.train import main

if __name__ == "__main__":
    main()
