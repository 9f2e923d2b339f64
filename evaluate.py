"""`python evaluate.py --run_dir=runs/dcgan` in a clone: the kgan-evaluate command (kgan_cli/evaluate.py)."""
from kgan_cli.evaluate import main

if __name__ == "__main__":
    main()
