"""`python launch.py --workers=2 -- --flagfile=...` in a clone: the kgan-launch command (kgan_cli/launch.py)."""
from kgan_cli.launch import free_ports, launch, main, tf_config  # noqa: F401  (tests import them from here)

if __name__ == "__main__":
    main()
