"""The DynamoDB backend: the only package that imports boto3/botocore."""
