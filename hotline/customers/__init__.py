"""The customer's file (客户档案): customers with 户号, names, addresses and phone numbers,
their import, the link of a call to its customer and the identity check (核实身份)."""
