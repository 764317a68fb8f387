-- One database per service (the catalog database is POSTGRES_DB). UTF-8 ctype for CJK search.
CREATE DATABASE request TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8';
CREATE DATABASE stats TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8';
