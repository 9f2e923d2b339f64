"""`python generate.py --run_dir=runs/dcgan --num=50000 --out=samples/` in a clone: the kgan-generate command
(kgan_cli/generate.py)."""
from kgan_cli.generate import main

if __name__ == "__main__":
    main()
