"""What every bundled server shares: the workspace, output limits, results, the runner."""
