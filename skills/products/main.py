"""The product lookup skill: rows of knowledge/products.csv matching a SKU or every word of a query."""
import csv
import json
import os
import sys


def main():
    request = json.load(sys.stdin)
    query = str(request.get("query", "")).strip().lower()
    if not query:
        print("input.query must be a non-empty string", file=sys.stderr)
        sys.exit(2)
    in_stock_only = request.get("in_stock_only") is True
    path = os.path.join(os.environ["SWIFTLET_WORKSPACE"], "knowledge", "products.csv")
    with open(path, newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    terms = query.split()
    matches = []
    for row in rows:
        text = " ".join([row["sku"], row["name"], row["category"]]).lower()
        if row["sku"].lower() == query or all(term in text for term in terms):
            if in_stock_only and int(row["stock"]) == 0:
                continue
            matches.append({"sku": row["sku"], "name": row["name"], "category": row["category"],
                            "price_eur": float(row["price_eur"]), "stock": int(row["stock"])})
    print(json.dumps({"query": query, "count": len(matches), "products": matches}))


main()
