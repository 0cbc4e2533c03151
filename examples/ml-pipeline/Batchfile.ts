// A DVC-style ML pipeline (prepare → featurize → train → evaluate) with its parameters in
// params.yaml and its scores in eval/metrics.json. The stages are plain Python (standard
// library only); each reads its params from BATCH_PARAMS. Run it with ./run.sh.
import { defineBatch } from 'batchfile';

const py = (stage: string): string => `python3 stages/${stage}.py`;

export default defineBatch({
  steps: {
    prepare: {
      command: py('prepare'),
      inputs: ['data/posts.tsv', 'stages/common.py'],
      outputs: ['build/prepared/train.tsv', 'build/prepared/test.tsv'],
      paramsFrom: { 'params.yaml': ['prepare.split', 'prepare.seed'] },
    },
    featurize: {
      command: py('featurize'),
      inputs: ['build/prepared/train.tsv', 'build/prepared/test.tsv', 'stages/common.py'],
      outputs: ['build/features/train.json', 'build/features/test.json', 'build/features/vocab.json'],
      paramsFrom: { 'params.yaml': ['featurize.max_features', 'featurize.ngrams'] },
    },
    train: {
      command: py('train'),
      inputs: ['build/features/train.json', 'build/features/vocab.json', 'stages/common.py'],
      outputs: ['build/model.json'],
      paramsFrom: { 'params.yaml': ['train.n_est', 'train.seed', 'train.min_split'] },
    },
    evaluate: {
      command: py('evaluate'),
      inputs: ['build/model.json', 'build/features/test.json', 'stages/common.py'],
      outputs: ['eval/metrics.json'],
      metrics: ['eval/metrics.json'],
      metricBounds: { accuracy: { maxDrop: 0.05 }, roc_auc: { min: 0.8, maxDrop: 0.02 } },
    },
  },
});
