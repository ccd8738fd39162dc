-- The generation of the file attached as `published` (a copy of the one at the path).
SELECT generation FROM published.publication;
