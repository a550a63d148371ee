"""The semantic core: values, path conditions, control-flow graphs, summaries, the contract."""
