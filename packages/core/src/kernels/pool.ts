// placeholder for the pool kernel (TS twin + native dispatch)
export {};
