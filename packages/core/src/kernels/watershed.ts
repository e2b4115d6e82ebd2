// placeholder for the watershed kernel (TS twin + native dispatch)
export {};
