"""From subband files landing in the incoming directory to groups in the queue.

* :mod:`~contimg.ingest.names`: the file-name convention and the ``group_id`` form;
* :mod:`~contimg.ingest.uvh5`: the cheap UVH5 header check (h5py, no visibilities);
* :mod:`~contimg.ingest.queue`: grouping and the queue's state machine;
* :mod:`~contimg.ingest.scanner`: size-stability checks and directory scans;
* :mod:`~contimg.ingest.watch`: inotify (watchfiles) plus periodic rescans;
* :mod:`~contimg.ingest.hooks`: the calibrator-matching hook called on ``pending``;
* :mod:`~contimg.ingest.worker`: workers that claim groups and run the stages.

See ``docs/ingest.md`` for the rules and why.
"""
