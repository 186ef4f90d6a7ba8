"""``thaiocr cloud``: train and serve on Amazon SageMaker with plain boto3, and the container side of a job.

One module per job: ``aws`` (clients, S3 URIs, AWS errors as plain messages), ``check`` (the setup
check), ``s3sync`` (dataset upload), ``bundle`` (the source tarball a job installs), ``jobs`` (the
training-job request), ``monitor`` (watching, summaries, stop), ``logs`` (CloudWatch), ``artifacts``
(``model.tar.gz`` download and safe extraction), ``container`` (the SageMaker training contract),
``costs`` (the price table ``prices.csv``), ``estimate`` (time and cost from a local measurement),
``image`` (build and push the image to ECR), ``deploy`` (endpoints: create, wait, list, remove) and
``invoke`` (read images with an endpoint).

Nothing is imported here: ``thaiocr --help`` must not load boto3 or torch.
"""
