"""Score a trained run's samples: `kgan-evaluate --run_dir=runs/dcgan --data_dir=../shared/data/mnist`.

Generates `--num_samples` images from the run's latest checkpoint (the EMA
generator if the run keeps one) and prints kgan's quality metrics next to the
real-data floor (held-out real images scored the same way). The reference
classifier is trained on first use from the labelled real data in
`--data_dir` (default: the run's own data) and cached in `--classifier_cache`.
Writes `<run_dir>/quality.json`. A thin shell over `kgan.workdir.load_run` and
`kgan.eval`; bad input ends with one line on stderr and exit code 2.
"""

import json
import time

from absl import flags

from kgan_cli import common

common.import_tensorflow_quietly()

from kgan import data, eval as eval_lib, workdir  # noqa: E402
from kgan.io import atomic_write  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string("run_dir", None, "The --output_dir of a train.py run.")
flags.DEFINE_string("data_dir", None, "Labelled real data (default: the run's --data_dir).")
flags.DEFINE_string("dataset", None, "Dataset name of the real data (default: the run's --dataset).")
flags.DEFINE_integer("num_samples", 10000, "Generated images to score.")
flags.DEFINE_integer("seed", 0, "Seed of the latents.")
flags.DEFINE_string("classifier_cache", "~/.cache/kgan", "Where the reference classifier is cached.")

_ORDER = ("classifier_score", "fcd", "precision", "recall", "modes", "class_kl", "label_accuracy")
_BETTER = {"classifier_score": "higher, max 10", "fcd": "lower", "precision": "higher", "recall": "higher",
           "modes": "all 10", "class_kl": "lower", "label_accuracy": "higher"}


def _main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}: flags look like --name=value")
    if not FLAGS.run_dir:
        common.fail("--run_dir is required: the --output_dir of a train.py run")
    if FLAGS.num_samples < 100:
        common.fail(f"--num_samples must be at least 100, got {FLAGS.num_samples}")
    with common.errors_exit():
        gan, config = workdir.load_run(FLAGS.run_dir)
        images, labels = data.arrays(FLAGS.dataset or config.dataset, data_dir=FLAGS.data_dir or config.data_dir,
                                     split=config.split, with_labels=True)
        classifier, info = eval_lib.reference_classifier(images, labels, FLAGS.classifier_cache)
        start = time.perf_counter()
        evaluator = eval_lib.Evaluator(classifier, images)
        gen_labels = gan.check_labels(None, FLAGS.num_samples) if gan.num_classes else None
        samples = gan.generate(FLAGS.num_samples, seed=FLAGS.seed, labels=gen_labels)
        result = evaluator.evaluate(samples, labels=gen_labels)
        seconds = time.perf_counter() - start
        floor = evaluator.real_floor()
    print(f"reference classifier: held-out accuracy {info['accuracy']:.4f} ({info['path']})")
    print(f"{FLAGS.num_samples} samples from {FLAGS.run_dir} scored in {seconds:.1f} s\n")
    print(f"| metric | samples | real floor | better |")
    print("| --- | --- | --- | --- |")
    for k in _ORDER:
        if k in result:
            f = floor.get(k)
            print(f"| {k} | {result[k]:.4g} | {'' if f is None else f'{f:.4g}'} | {_BETTER[k]} |")
    atomic_write(workdir.path(FLAGS.run_dir, workdir.QUALITY),
                 json.dumps({"samples": result, "real_floor": floor, "num_samples": FLAGS.num_samples,
                             "classifier_accuracy": info["accuracy"], "seconds": seconds}, indent=2))


def main():
    common.register_key_flags(["run_dir", "data_dir", "dataset", "num_samples", "seed", "classifier_cache"])
    common.run(_main)


if __name__ == "__main__":
    main()
